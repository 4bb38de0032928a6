"""trt/cuda.py: the typed pycuda session, run against the pycuda emulator of tests/trtsim (never a speed figure)."""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any, Iterator, List

import numpy as np
import pytest

from edgeunet.core.errors import MissingDependencyError
from tests.trtsim import assert_clean, configure_gpu, installed, live_allocations, state
from tests.trtsim.fixtures import PURGE


@pytest.fixture
def pycuda() -> Iterator[Any]:
    with installed("10.3", purge=PURGE):
        yield importlib.import_module("pycuda.driver")


def test_alloc_copy_and_free(pycuda: Any) -> None:
    from edgeunet.trt.cuda import CudaSession

    session = CudaSession()
    data = np.arange(6, dtype=np.float32)
    buffer = session.alloc(data.nbytes)
    assert buffer.nbytes == 24 and buffer.ptr != 0
    session.copy_to_device(buffer, data[::2])  # non-contiguous input is made contiguous before the copy
    back = np.zeros(3, np.float32)
    with session.activate():
        pycuda.memcpy_dtoh(back, buffer.ptr)
    np.testing.assert_array_equal(back, [0, 2, 4])
    buffer.free()
    buffer.free()  # a second free is a no-op, not a double free
    empty = session.alloc(0)  # CUDA refuses zero bytes: one byte is allocated, nbytes stays 0
    assert empty.nbytes == 0
    empty.free()
    assert not live_allocations()
    assert_clean()  # every activate() popped what it pushed


def test_async_copies_pinned_memory_and_events(pycuda: Any) -> None:
    from edgeunet.trt.cuda import CudaSession

    session = CudaSession()
    host = session.pinned((2, 2), np.float32)
    assert host.shape == (2, 2) and host.dtype == np.float32 and isinstance(host, np.ndarray)
    host[:] = [[1, 2], [3, 4]]
    device = session.alloc(host.nbytes)
    marks = session.events(2)
    with session.activate():
        marks[0].record()
        session.copy_to_device_async(device, host)
        out = np.zeros_like(host)
        session.copy_to_host_async(out, device)
        marks[1].record()
    session.synchronize()
    np.testing.assert_array_equal(out, host)
    assert isinstance(marks[1].ms_since(marks[0]), float) and isinstance(session.stream_handle, int)
    device.free()


def test_device_facts_and_any_thread(pycuda: Any) -> None:
    from edgeunet.trt.cuda import CudaSession

    configure_gpu("Orin", (8, 7))
    session = CudaSession()
    assert session.device_name() == "Orin" and session.compute_capability() == (8, 7)
    errors: List[BaseException] = []

    def worker() -> None:  # the primary context is pushed per call, so another thread may use the session
        try:
            session.alloc(16).free()
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert not errors and state().frees >= 1


def test_activate_pops_on_error(pycuda: Any) -> None:
    from edgeunet.trt.cuda import CudaSession

    session = CudaSession()
    with pytest.raises(RuntimeError):
        with session.activate():
            raise RuntimeError("inside")
    assert_clean()


def test_missing_or_broken_pycuda_is_a_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.trt import cuda

    monkeypatch.setitem(sys.modules, "pycuda", None)
    with pytest.raises(MissingDependencyError, match="pycuda not found: on Jetson"):
        cuda.CudaSession()

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise OSError("libcuda.so.1: cannot open shared object file")

    monkeypatch.setitem(sys.modules, "pycuda", Broken())
    with pytest.raises(MissingDependencyError, match=r"pycuda is installed but does not load \(OSError: libcuda"):
        cuda.CudaSession()
