"""pycuda.driver, emulated: one device, per-thread context stacks, bounds-checked device memory behind integer pointers.

Sources: pycuda documentation (driver.html): `mem_alloc` returns a DeviceAllocation that converts to an int pointer
and frees on `free()` or garbage collection; `Context.pop()` pops the calling thread's current context; copies and
allocations need a current context (CUDA "invalid device context" otherwise, TENSORRT.md "CUDA buffers");
`pagelocked_empty` returns a numpy array. What the emulator adds: every pointer is checked against a live allocation,
so use-after-free and out-of-bounds reads/writes raise LogicError instead of corrupting memory silently.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from tests.trtsim.state import STATE

VERSION = (2024, 1, 2)
VERSION_TEXT = "2024.1.2 (trtsim emulation)"

_BASE_ADDRESS = 0x7F0000000000
_ALIGN = 256


class Error(Exception):
    """pycuda.driver.Error"""


class LogicError(Error):
    """pycuda.driver.LogicError: API misuse (invalid context, invalid address)."""


class _Memory:
    """The device: sorted allocation bases, live and freed ranges, and a per-thread context stack."""

    def __init__(self) -> None:
        self.next_address = _BASE_ADDRESS
        self.bases: List[int] = []
        self.blocks: Dict[int, "DeviceAllocation"] = {}
        self.local = threading.local()
        self.initialised = False
        self.auto_contexts: Dict[int, int] = {}  # thread id -> depth pushed by pycuda.autoinit/autoprimaryctx
        self.stream_handles: Dict[int, "Stream"] = {}
        self.handle_counter = itertools.count(0x5000)

    def stack(self) -> List["Context"]:
        if not hasattr(self.local, "stack"):
            self.local.stack = []
        stack: List[Context] = self.local.stack
        return stack


MEMORY = _Memory()


def reset_device() -> None:
    """Forget all allocations, contexts and streams (trtsim.reset())."""
    global MEMORY  # noqa: PLW0603 - the emulated device is process-wide, like the real one
    MEMORY = _Memory()


def init(flags: int = 0) -> None:
    MEMORY.initialised = True


def _require_init() -> None:
    if not MEMORY.initialised:
        raise LogicError("cuInit has not been called (pycuda.driver.init())")


def _require_context(what: str) -> None:
    if not MEMORY.stack():
        raise LogicError(f"{what} failed: invalid device context (no context is current in this thread)")


class Device:
    """pycuda.driver.Device: only ordinal 0 exists."""

    def __init__(self, ordinal: int) -> None:
        _require_init()
        if int(ordinal) != 0:
            raise LogicError(f"cuDeviceGet failed: invalid device ordinal {ordinal}")
        self.ordinal = 0

    @staticmethod
    def count() -> int:
        _require_init()
        return 1

    def name(self) -> str:
        return STATE.gpu.name

    def compute_capability(self) -> Tuple[int, int]:
        return STATE.gpu.compute_capability

    def total_memory(self) -> int:
        return STATE.gpu.total_memory

    def make_context(self, flags: int = 0) -> "Context":
        """A new context, pushed (pycuda: make_context pushes it onto the calling thread's stack)."""
        context = Context(self, primary=False)
        context.push()
        return context

    def retain_primary_context(self) -> "Context":
        """The primary context; not made current (the caller pushes it)."""
        return Context(self, primary=True)


class Context:
    """pycuda.driver.Context: push/pop on the calling thread's stack; popping an empty stack is an error."""

    def __init__(self, device: Device, primary: bool) -> None:
        self.device = device
        self.primary = primary
        self.detached = False

    def push(self) -> None:
        if self.detached:
            raise LogicError("cuCtxPushCurrent failed: context was detached")
        MEMORY.stack().append(self)

    @staticmethod
    def pop() -> None:
        stack = MEMORY.stack()
        if not stack:
            raise LogicError("cuCtxPopCurrent failed: invalid device context (the context stack of this thread is empty)")
        stack.pop()

    @staticmethod
    def get_device() -> Device:
        stack = MEMORY.stack()
        if not stack:
            raise LogicError("cuCtxGetDevice failed: invalid device context")
        return stack[-1].device

    @staticmethod
    def synchronize() -> None:
        _require_context("cuCtxSynchronize")

    def detach(self) -> None:
        stack = MEMORY.stack()
        if stack and stack[-1] is self:
            stack.pop()
        self.detached = True


def context_depth() -> int:
    """Contexts pushed in this thread beyond what pycuda.autoinit/autoprimaryctx pushed at import."""
    return len(MEMORY.stack()) - MEMORY.auto_contexts.get(threading.get_ident(), 0)


def auto_context(primary: bool) -> Tuple[Device, Context]:
    """What importing pycuda.autoprimaryctx (primary=True) or pycuda.autoinit does: init, device 0, push a context."""
    init()
    device = Device(0)
    context = device.retain_primary_context() if primary else Context(device, primary=False)
    context.push()
    ident = threading.get_ident()
    MEMORY.auto_contexts[ident] = MEMORY.auto_contexts.get(ident, 0) + 1
    return device, context


class DeviceAllocation:
    """Device memory: int(ptr) is its address; reading or writing outside it or after free() raises LogicError."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = int(nbytes)
        self.address = MEMORY.next_address
        MEMORY.next_address += (self.nbytes + _ALIGN - 1) // _ALIGN * _ALIGN + _ALIGN  # a guard gap between blocks
        self.data: Optional[np.ndarray] = np.zeros(self.nbytes, dtype=np.uint8)
        self.memory = MEMORY
        bisect.insort(MEMORY.bases, self.address)
        MEMORY.blocks[self.address] = self
        STATE.recorder.allocations += 1

    def __int__(self) -> int:
        return self.address

    __index__ = __int__

    def free(self) -> None:
        if self.data is None:
            return
        self.data = None
        STATE.recorder.frees += 1

    def __del__(self) -> None:  # pycuda frees device memory when the allocation object is collected
        if getattr(self, "data", None) is not None:
            self.data = None
            STATE.recorder.frees_by_gc += 1


def mem_alloc(nbytes: int) -> DeviceAllocation:
    _require_context("cuMemAlloc")
    if int(nbytes) <= 0:
        raise LogicError("cuMemAlloc failed: invalid value (size 0)")
    return DeviceAllocation(int(nbytes))


def live_allocations() -> List[DeviceAllocation]:
    return [b for b in MEMORY.blocks.values() if b.data is not None]


def resolve(pointer: Any, nbytes: int, what: str) -> Tuple[DeviceAllocation, int]:
    """(allocation, offset) for `nbytes` at `pointer`; LogicError for a freed, unknown or too-small range."""
    address = int(pointer)
    index = bisect.bisect_right(MEMORY.bases, address) - 1
    if index < 0:
        raise LogicError(f"{what}: {address:#x} is not device memory")
    block = MEMORY.blocks[MEMORY.bases[index]]
    offset = address - block.address
    if offset >= max(block.nbytes, 1):
        raise LogicError(f"{what}: {address:#x} is not inside any allocation")
    if block.data is None:
        raise LogicError(f"{what}: {address:#x} was freed (use after free)")
    if offset + nbytes > block.nbytes:
        raise LogicError(
            f"{what}: {nbytes} bytes at {address:#x} run past the end of a {block.nbytes}-byte allocation (out of bounds)"
        )
    return block, offset


def read(pointer: Any, nbytes: int, what: str = "device read") -> bytes:
    block, offset = resolve(pointer, nbytes, what)
    assert block.data is not None
    return block.data[offset:offset + nbytes].tobytes()


def write(pointer: Any, data: bytes, what: str = "device write") -> None:
    block, offset = resolve(pointer, len(data), what)
    assert block.data is not None
    block.data[offset:offset + len(data)] = np.frombuffer(data, dtype=np.uint8)


def pagelocked_empty(shape: Any, dtype: Any, order: str = "C", mem_flags: int = 0) -> np.ndarray:
    _require_context("cuMemHostAlloc")
    STATE.recorder.pinned_buffers += 1
    return np.empty(shape, dtype=dtype, order=order)  # type: ignore[call-overload]


class Stream:
    """pycuda.driver.Stream: `.handle` is what TensorRT's execute_async_v3 takes."""

    def __init__(self, flags: int = 0) -> None:
        _require_context("cuStreamCreate")
        self.handle = next(MEMORY.handle_counter)
        MEMORY.stream_handles[self.handle] = self

    def synchronize(self) -> None:
        _require_context("cuStreamSynchronize")

    def is_done(self) -> bool:
        return True


class Event:
    """pycuda.driver.Event: record on a stream, then time_since(earlier) in milliseconds (pycuda driver docs).

    The emulator's stream runs everything at once, so the times are the host's wall clock between records:
    a protocol check (record before time_since, a current context), never a GPU timing.
    """

    def __init__(self, flags: int = 0) -> None:
        _require_context("cuEventCreate")
        self._at: Optional[float] = None

    def record(self, stream: Any = None) -> "Event":
        _check_stream(stream)
        self._at = time.perf_counter()
        return self

    def synchronize(self) -> "Event":
        return self

    def query(self) -> bool:
        return self._at is not None

    def time_since(self, event: "Event") -> float:
        if self._at is None or event._at is None:
            raise LogicError("cuEventElapsedTime failed: an event was not recorded")
        return (self._at - event._at) * 1000.0

    def time_till(self, event: "Event") -> float:
        return event.time_since(self)


def _host_bytes(src: Any) -> bytes:
    return memoryview(np.ascontiguousarray(src)).cast("B").tobytes()


def _check_stream(stream: Any) -> None:
    if stream is not None and not isinstance(stream, Stream):
        raise TypeError(f"stream must be a pycuda.driver.Stream, got {type(stream).__name__}")


def memcpy_htod(dest: Any, src: Any) -> None:
    _require_context("cuMemcpyHtoD")
    write(dest, _host_bytes(src), "cuMemcpyHtoD")


def memcpy_dtoh(dest: np.ndarray, src: Any) -> None:
    _require_context("cuMemcpyDtoH")
    data = read(src, dest.nbytes, "cuMemcpyDtoH")
    np.copyto(dest, np.frombuffer(data, dtype=dest.dtype).reshape(dest.shape))


def memcpy_htod_async(dest: Any, src: Any, stream: Any = None) -> None:
    _check_stream(stream)
    _require_context("cuMemcpyHtoDAsync")
    write(dest, _host_bytes(src), "cuMemcpyHtoDAsync")


def memcpy_dtoh_async(dest: np.ndarray, src: Any, stream: Any = None) -> None:
    _check_stream(stream)
    _require_context("cuMemcpyDtoHAsync")
    data = read(src, dest.nbytes, "cuMemcpyDtoHAsync")
    np.copyto(dest, np.frombuffer(data, dtype=dest.dtype).reshape(dest.shape))


DRIVER_NAMES = (
    "Error", "LogicError", "init", "Device", "Context", "DeviceAllocation", "mem_alloc", "pagelocked_empty", "Stream",
    "memcpy_htod", "memcpy_dtoh", "memcpy_htod_async", "memcpy_dtoh_async",
)
