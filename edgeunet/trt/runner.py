"""Run a serialized TensorRT engine: name-based I/O, pinned buffers, one stream, execute_async_v3.

The same calls work on 8.5, 10.x and 11.x (num_io_tensors / get_tensor_name / get_tensor_mode,
set_input_shape, set_tensor_address, execute_async_v3); the bindings API removed in 10 is never used.
One inference: set shapes -> async H2D -> execute_async_v3 -> async D2H -> one synchronize.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.trt import import_tensorrt, shared_logger
from edgeunet.trt.build import dims_tuple
from edgeunet.trt.cuda import CudaSession, DeviceBuffer, EventMark

if TYPE_CHECKING:
    import numpy.typing as npt
    import tensorrt as trt

# Keyed by DataType name, not by enum member, so that names newer than the running TensorRT are never looked up.
NUMPY_BY_TRT_DTYPE: Dict[str, Any] = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT8": np.int8,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}


def numpy_dtype(dtype_name: str) -> Any:
    """numpy dtype for a TensorRT DataType name (e.g. 'HALF' -> float16)."""
    try:
        return NUMPY_BY_TRT_DTYPE[dtype_name]
    except KeyError:
        raise EdgeUnetError(f"engine tensor type {dtype_name} is not supported by edgeunet's runner; rebuild with float or uint8 I/O") from None


class _Binding:
    """One I/O tensor's pinned host and device buffers, grown only when a larger shape needs more than they hold."""

    def __init__(self, name: str, is_input: bool, dtype: Any) -> None:
        self.name = name
        self.is_input = is_input
        self.dtype = dtype
        self.shape: Tuple[int, ...] = ()
        self.host: npt.NDArray[Any] = np.empty(0, dtype=dtype)
        self.device: DeviceBuffer | None = None
        self._pinned: npt.NDArray[Any] = np.empty(0, dtype=dtype)  # the whole page-locked buffer; `host` is a view of it

    def ensure(self, session: CudaSession, shape: Tuple[int, ...]) -> None:
        """Point `host` at this shape, reallocating pinned + device memory only when it does not fit.

        A stream whose batch size changes (2, then 1, then 2) must not pay cudaHostAlloc each time: page-locking is
        slow and scarce on a Jetson, so a smaller shape uses the front of the buffers it already has.
        """
        if any(d < 0 for d in shape):
            raise EdgeUnetError(f"engine tensor {self.name} has an unresolved shape {shape}; set the input shape first")
        count = int(np.prod(shape, dtype=np.int64))
        if self.device is None or count > self._pinned.size:
            if self.device is not None:
                self.device.free()
            self._pinned = session.pinned((max(count, 1),), self.dtype)
            self.device = session.alloc(int(self._pinned.nbytes))
        self.host = self._pinned[:count].reshape(shape)
        self.shape = shape

    def release(self) -> None:
        """Free the device buffer and drop the pinned host buffer (page-locked memory is scarce on a Jetson)."""
        if self.device is not None:
            self.device.free()
            self.device = None
        self._pinned = self.host = np.empty(0, dtype=self.dtype)
        self.shape = ()


class EngineRunner:
    """Deserialize once, then `infer({name: array}) -> {name: array}` as often as needed, from any thread.

    `phase_ms` holds the last inference's H2D / compute / D2H times (CUDA events on the stream, as trtexec reports
    them). Any TensorRT or CUDA failure surfaces as one EdgeUnetError line; `close()` may be called any number of times.
    """

    def __init__(self, plan_bytes: bytes, source: str = "engine", dla_core: Optional[int] = None) -> None:
        import_tensorrt()  # absent or broken: one line (exit 3)
        import tensorrt as trt

        self.source = source
        self.phase_ms: Dict[str, float] = {}
        self.bindings: List[_Binding] = []
        self.input_shapes: Dict[str, Tuple[int, ...]] = {}
        self._closed = False
        self._marks: List[EventMark] = []  # four CUDA events, made once and recorded again on every inference
        self.session = CudaSession()
        try:
            with self.session.activate():
                self._runtime: trt.Runtime = trt.Runtime(shared_logger())
                if dla_core is not None:
                    self._runtime.DLA_core = int(dla_core)  # an engine built for DLA core N runs there, not on core 0
                engine = self._runtime.deserialize_cuda_engine(plan_bytes)
                if engine is None:
                    raise EdgeUnetError(f"{source}: TensorRT could not load this engine (corrupt, or built by another version); rebuild it")
                self.engine: trt.ICudaEngine = engine
                self.context: trt.IExecutionContext = engine.create_execution_context()
                if self.context is None:
                    raise EdgeUnetError(f"{source}: TensorRT could not create an execution context (out of GPU memory?)")
            for index in range(engine.num_io_tensors):
                name = engine.get_tensor_name(index)
                is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
                self.bindings.append(_Binding(name, is_input, numpy_dtype(engine.get_tensor_dtype(name).name)))
                if is_input:
                    self.input_shapes[name] = dims_tuple(engine.get_tensor_shape(name))  # -1 = dynamic
        except EdgeUnetError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - pybind/pycuda errors: one line, not a traceback
            self.close()
            raise EdgeUnetError(f"{source}: TensorRT could not load this engine ({type(exc).__name__}: {exc}); rebuild it") from None
        self.input_names = [b.name for b in self.bindings if b.is_input]
        self.output_names = [b.name for b in self.bindings if not b.is_input]

    def infer(self, inputs: Dict[str, npt.NDArray[Any]]) -> Dict[str, npt.NDArray[Any]]:
        if self._closed:
            raise EdgeUnetError(f"{self.source}: the engine was closed; open it again")
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise EdgeUnetError(f"engine inputs missing: {', '.join(missing)}")
        try:
            return self._infer(inputs)
        except EdgeUnetError:
            raise
        except Exception as exc:  # noqa: BLE001 - CUDA errors (pycuda.driver.Error) and pybind errors
            raise EdgeUnetError(f"{self.source}: TensorRT/CUDA failed while running the engine ({type(exc).__name__}: {exc})") from None

    def _infer(self, inputs: Dict[str, npt.NDArray[Any]]) -> Dict[str, npt.NDArray[Any]]:
        with self.session.activate():
            for binding in self.bindings:
                if binding.is_input:
                    array = np.ascontiguousarray(inputs[binding.name], dtype=binding.dtype)
                    shape = tuple(int(d) for d in array.shape)
                    if not self.context.set_input_shape(binding.name, shape):
                        raise EdgeUnetError(f"input {binding.name} shape {shape} is outside the engine's profile; rebuild with --shapes")
                    binding.ensure(self.session, shape)
                    np.copyto(binding.host, array)
            for binding in self.bindings:
                if not binding.is_input:
                    binding.ensure(self.session, dims_tuple(self.context.get_tensor_shape(binding.name)))
                assert binding.device is not None
                self.context.set_tensor_address(binding.name, binding.device.ptr)
            if not self._marks:
                self._marks = self.session.events(4)
            marks = self._marks
            marks[0].record()
            for binding in self.bindings:
                if binding.is_input and binding.device is not None:
                    self.session.copy_to_device_async(binding.device, binding.host)
            marks[1].record()
            if not self.context.execute_async_v3(self.session.stream_handle):
                raise EdgeUnetError("TensorRT failed to run the engine (see its log above)")
            marks[2].record()
            for binding in self.bindings:
                if not binding.is_input and binding.device is not None:
                    self.session.copy_to_host_async(binding.host, binding.device)
            marks[3].record()
            self.session.synchronize()
            self.phase_ms = {"h2d": marks[1].ms_since(marks[0]), "compute": marks[2].ms_since(marks[1]), "d2h": marks[3].ms_since(marks[2])}
        return {b.name: b.host.copy() for b in self.bindings if not b.is_input}

    def close(self) -> None:
        """Free device and pinned buffers, the context, the engine and the runtime; safe to call again."""
        if self._closed:
            return
        self._closed = True
        with self.session.activate():
            for binding in self.bindings:
                binding.release()
            self.__dict__.pop("context", None)
            self.__dict__.pop("engine", None)
            self.__dict__.pop("_runtime", None)


def runtime_info() -> Tuple[str, str, Tuple[int, int]]:
    """(TensorRT version, GPU name, compute capability) of this machine, for the sidecar check (no stream is made)."""
    trt = import_tensorrt()
    session = CudaSession()
    return str(trt.__version__), session.device_name(), session.compute_capability()
