"""pycuda, typed and thread-safe: pinned host buffers, device buffers, one stream, the primary context.

Why the primary context: `pycuda.autoinit` creates a context current only in the importing thread, so a
stream pipeline that runs inference in a worker thread fails with "invalid device context". We retain the
device's primary context (`pycuda.autoprimaryctx`, the same one TensorRT's runtime API and PyTorch use) and
push/pop it around every batch of CUDA calls, which makes a `CudaSession` usable from any thread.

pycuda ships no type stubs, so its objects are `Any` here and every value that leaves this module is converted
to a plain typed value (int, str, numpy array) — that keeps `mypy --strict` meaningful for the callers.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Iterator, List, Tuple

import numpy as np

from edgeunet.core.errors import MissingDependencyError

if TYPE_CHECKING:
    import numpy.typing as npt

PYCUDA_HINT = (
    "pycuda not found: on Jetson build it against JetPack's CUDA (export PATH=/usr/local/cuda/bin:$PATH; pip install pycuda); "
    "on a desktop GPU: pip install 'edgeunet[trt]'"
)


def _import_pycuda() -> Tuple[Any, Any]:
    """(pycuda.driver, the retained primary context); MissingDependencyError (exit 3) with the install step."""
    try:
        from pycuda import driver
    except ImportError:
        raise MissingDependencyError(PYCUDA_HINT) from None
    except Exception as exc:  # noqa: BLE001 - a pycuda built against another CUDA fails with OSError on import
        raise MissingDependencyError(f"pycuda is installed but does not load ({type(exc).__name__}: {exc}); {PYCUDA_HINT}") from None
    try:
        import pycuda.autoprimaryctx as primary
    except Exception as exc:  # noqa: BLE001 - cuInit errors (no GPU, driver mismatch) surface as pycuda's own types
        raise MissingDependencyError(f"CUDA is not usable here ({exc}); check the GPU driver with nvidia-smi / tegrastats") from None
    return driver, primary.context


class DeviceBuffer:
    """A device allocation of `nbytes`; `ptr` is what TensorRT's set_tensor_address takes."""

    def __init__(self, allocation: Any, nbytes: int) -> None:
        self._allocation = allocation
        self.nbytes = nbytes

    @property
    def ptr(self) -> int:
        return int(self._allocation)

    def free(self) -> None:
        if self._allocation is not None:
            self._allocation.free()
            self._allocation = None


class EventMark:
    """A CUDA event recorded on the session's stream: GPU-side time between two marks, without a synchronize per phase."""

    def __init__(self, event: Any, stream: Any) -> None:
        self._event = event
        self._stream = stream

    def record(self) -> None:
        self._event.record(self._stream)

    def ms_since(self, earlier: "EventMark") -> float:
        return float(self._event.time_since(earlier._event))


class CudaSession:
    """One CUDA stream on the primary context; every public method activates the context for the calling thread.

    The stream is made on first use: a session that only asks for the device (`runtime_info`) creates none, because
    pycuda releases a stream only when the object is collected.
    """

    def __init__(self) -> None:
        self._driver, self._context = _import_pycuda()
        self._lock = threading.RLock()
        self._stream_obj: Any = None

    @property
    def _stream(self) -> Any:
        if self._stream_obj is None:
            with self.activate():
                self._stream_obj = self._driver.Stream()
        return self._stream_obj

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Make the primary context current in this thread for the duration (safe to nest, any thread)."""
        with self._lock:
            self._context.push()
            try:
                yield
            finally:
                self._driver.Context.pop()

    @property
    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def device_name(self) -> str:
        with self.activate():
            return str(self._driver.Context.get_device().name())

    def compute_capability(self) -> Tuple[int, int]:
        with self.activate():
            major, minor = self._driver.Context.get_device().compute_capability()
        return int(major), int(minor)

    def pinned(self, shape: Tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
        """A page-locked host array: required for truly asynchronous copies."""
        with self.activate():
            array: npt.NDArray[Any] = np.asarray(self._driver.pagelocked_empty(shape, dtype))
        return array

    def alloc(self, nbytes: int) -> DeviceBuffer:
        with self.activate():
            return DeviceBuffer(self._driver.mem_alloc(max(int(nbytes), 1)), int(nbytes))

    def copy_to_device_async(self, device: DeviceBuffer, host: npt.NDArray[Any]) -> None:
        self._driver.memcpy_htod_async(device.ptr, host, self._stream)

    def copy_to_host_async(self, host: npt.NDArray[Any], device: DeviceBuffer) -> None:
        self._driver.memcpy_dtoh_async(host, device.ptr, self._stream)

    def copy_to_device(self, device: DeviceBuffer, host: npt.NDArray[Any]) -> None:
        """Synchronous upload (calibration: one image per TensorRT callback, no overlap to gain)."""
        with self.activate():
            self._driver.memcpy_htod(device.ptr, np.ascontiguousarray(host))

    def events(self, count: int) -> List[EventMark]:
        with self.activate():
            return [EventMark(self._driver.Event(), self._stream) for _ in range(count)]

    def synchronize(self) -> None:
        self._stream.synchronize()
