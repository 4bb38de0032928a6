"""pybind11 behaviour the emulated classes share: base-constructor enforcement and IHostMemory's buffer.

Why: a Python subclass of a pybind class with a trampoline (a calibrator, a logger, an allocator) that forgets the
base `__init__` gets a TypeError at construction from pybind11 (pybind11.h `pybind11_meta_call`: "<type>.__init__()
must be called when overriding __init__"); the emulator used to let it pass. `IHostMemory` (python/src/infer/
pyCore.cpp) binds only `dtype`, `nbytes` and the buffer protocol: `bytes(...)`, `memoryview(...)` and numpy read it,
but `len()`, indexing, slicing, `==` on contents and every `bytes` method do not exist, and it is no `bytes` instance.
"""

from __future__ import annotations

import mmap
from typing import Any, Dict

from tests.trtsim.guard import Emulated, GuardMeta

# Classes TensorRT's bindings declare with a Python trampoline (py::class_<T, PyT>), meant to be subclassed.
TRAMPOLINES = (
    "IAlgorithmSelector", "IErrorRecorder", "IGpuAllocator", "IGpuAsyncAllocator", "IOutputAllocator", "IProfiler",
    "IProgressMonitor", "IDebugListener", "IStreamReader", "IStreamReaderV2",
)


def mark_initialised(obj: Any) -> None:
    """What a trampoline base's `__init__` does: the C++ side now exists (checked by GuardMeta.__call__)."""
    obj.__dict__["_pybind_initialised"] = True


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    mark_initialised(self)


def trampoline(name: str, base: type = Emulated) -> type:
    """An emulated interface class whose only emulated member is its constructor (methods are the subclass's)."""
    attrs: Dict[str, Any] = {"_trt_name": name, "_pybind_trampoline": True, "__init__": _init,
                             "__doc__": f"tensorrt.{name}: subclass it and call {name}.__init__(self) first (pybind11 trampoline)."}
    return GuardMeta(name, (base,), attrs)


def _no(kind: str) -> Any:
    def refuse(self: Any, *args: Any) -> Any:
        raise TypeError(f"'IHostMemory' object {kind}")
    return refuse


class IHostMemory(Emulated, mmap.mmap):
    """The serialized engine or timing cache: `nbytes`, `dtype` and the buffer protocol, nothing else."""

    _trt_name = "IHostMemory"

    def __new__(cls, data: bytes) -> "IHostMemory":
        payload = bytes(data)
        if not payload:
            raise ValueError("trtsim: TensorRT never returns an empty IHostMemory")
        obj = mmap.mmap.__new__(cls, -1, len(payload))
        mmap.mmap.write(obj, payload)
        return obj

    @property
    def nbytes(self) -> int:
        return mmap.mmap.__len__(self)

    @property
    def dtype(self) -> Any:
        from tests.trtsim.tensorrt_api import _enum

        return _enum("DataType").UINT8

    __len__ = _no("has no len()")
    __getitem__ = _no("is not subscriptable")
    __setitem__ = _no("does not support item assignment")
    __iter__ = _no("is not iterable")
    __contains__ = _no("is not a container")
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__
