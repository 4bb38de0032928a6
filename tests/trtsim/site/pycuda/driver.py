"""Shim: pycuda.driver from trtsim (bounds-checked device memory, per-thread context stacks)."""

from tests.trtsim.cuda import (  # noqa: F401
    Context,
    Device,
    DeviceAllocation,
    Error,
    Event,
    LogicError,
    Stream,
    init,
    mem_alloc,
    memcpy_dtoh,
    memcpy_dtoh_async,
    memcpy_htod,
    memcpy_htod_async,
    pagelocked_empty,
)
