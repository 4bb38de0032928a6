"""pycuda.driver, emulated: one device, per-thread context stacks, bounds-checked device memory behind integer pointers,
and streams that run their work later, as a GPU does.

Sources: pycuda documentation (driver.html) and shared/trt-api/pycuda-api-2026.1.json (the surface: a name absent
there raises AttributeError, one present but not emulated NotImplementedError, as for tensorrt). `mem_alloc` returns
a DeviceAllocation that converts to an int pointer and frees on `free()` or garbage collection; `Context.pop()` pops
the calling thread's current context; copies and allocations need a current context (CUDA "invalid device context"
otherwise, docs/TENSORRT.md "CUDA buffers"); `pagelocked_empty` returns a numpy array whose `.base` chain holds a
PagelockedHostAllocation; copies take any C- or F-contiguous buffer and refuse others (pycuda asks for
PyBUF_ANY_CONTIGUOUS); a stream argument is a Stream object or None.

Asynchrony (CUDA Runtime API "API synchronization behavior" and "Stream synchronization behavior"): work enqueued on
a stream (`*_async` copies, `execute_async_v3`, `Event.record`) runs only when something waits for it:
`Stream.synchronize`, `Event.synchronize`, `Context.synchronize`, or a synchronous copy (the legacy default stream
waits for every blocking stream). A device-to-host copy into pinned memory fills the destination with 0xFF bytes
(NaN for floats) when it is enqueued, so a host buffer read before the synchronize shows poisoned data instead of
the right answer by luck; into pageable memory it returns only once done (CUDA docs). A pinned source is read when
the copy runs (changing it before then changes what the GPU sees), a pageable one is staged at once. An event is
complete only when its stream reaches it: `time_since` before that raises, as cuEventElapsedTime returns
CUDA_ERROR_NOT_READY. Time is virtual (an emulator choice, never a GPU figure): the device clock advances by
COPY_MS_FIXED + bytes / COPY_BYTES_PER_MS per copy and EXECUTE_MS per engine run, so event times are exact and
repeatable. What the emulator adds: every pointer is checked against a live allocation, so use-after-free
and out-of-bounds reads/writes raise LogicError instead of corrupting memory silently.
"""

from __future__ import annotations

import bisect
import itertools
import mmap
import threading
import types
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from tests.trtsim.state import STATE
from tests.trtsim.surface import pycuda_members

VERSION = (2026, 1)
VERSION_TEXT = "2026.1 (trtsim emulation)"

_BASE_ADDRESS = 0x7F0000000000
_ALIGN = 256
POISON = 0xFF  # every byte of a pending device-to-host copy's destination: NaN as float32/float16, -1 as an integer
COPY_MS_FIXED = 0.01  # virtual device time of one copy: a fixed cost ...
COPY_BYTES_PER_MS = 1e7  # ... plus its bytes at 10 GB/s
EXECUTE_MS = 0.5  # virtual device time of one execute_async_v3


def not_emulated(owner: str, member: str) -> NotImplementedError:
    return NotImplementedError(f"trtsim: pycuda.driver {owner}.{member} exists but is not emulated")


def _guarded(owner: str, name: str, lookup: Callable[[], Any], what: str) -> Any:
    if name not in pycuda_members(owner):
        raise AttributeError(f"{what} has no attribute '{name}'")
    try:
        return lookup()
    except AttributeError:
        raise not_emulated(owner, name) from None


class _GuardMeta(type):
    """Class-level lookups (`driver.Context.pop`) follow pycuda-api-*.json."""

    def __getattribute__(cls, name: str) -> Any:
        if name.startswith("_"):
            return type.__getattribute__(cls, name)
        owner = type.__getattribute__(cls, "_pycuda_name")
        return _guarded(owner, name, lambda: type.__getattribute__(cls, name), f"type object 'pycuda._driver.{owner}'")


class _Guarded(metaclass=_GuardMeta):
    """Base of the emulated pycuda classes: public names follow the json, emulator state is `_underscored`."""

    _pycuda_name = ""

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        owner = type(self)._pycuda_name
        return _guarded(owner, name, lambda: object.__getattribute__(self, name), f"'pycuda._driver.{owner}' object")


class Error(Exception):
    """pycuda.driver.Error"""


class LogicError(Error):
    """pycuda.driver.LogicError: API misuse (invalid context, invalid address)."""


class RuntimeError_(Error):  # noqa: N801 - exported as pycuda.driver.RuntimeError
    """pycuda.driver.RuntimeError: a CUDA error outside pycuda's launch / memory / logic groups (e.g. NOT_READY)."""


RuntimeError_.__name__ = RuntimeError_.__qualname__ = "RuntimeError"  # as pycuda names it in a traceback

@dataclass
class _Op:
    handle: int  # 0 = the legacy default stream
    what: str
    run: Callable[[], None]
    cost_ms: float = 0.0  # virtual device time the op takes


class _Memory:
    """The device: sorted allocation bases, live and freed ranges, per-thread context stacks, pending stream work."""

    def __init__(self) -> None:
        self.next_address = _BASE_ADDRESS
        self.bases: List[int] = []
        self.blocks: Dict[int, "DeviceAllocation"] = {}
        self.local = threading.local()
        self.initialised = False
        self.auto_contexts: Dict[int, int] = {}  # thread id -> depth pushed by pycuda.autoinit/autoprimaryctx
        self.stream_handles: Dict[int, "Stream"] = {}
        self.handle_counter = itertools.count(0x5000)
        self.pending: List[_Op] = []
        self.pinned: List["PagelockedHostAllocation"] = []
        self.lock = threading.RLock()
        self.clock_ms = 0.0  # the virtual device clock

    def stack(self) -> List["Context"]:
        if not hasattr(self.local, "stack"):
            self.local.stack = []
        stack: List[Context] = self.local.stack
        return stack


MEMORY = _Memory()


def reset_device() -> None:
    """Forget all allocations, contexts, streams and pending work (trtsim.reset())."""
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


# -- streams: work runs when waited for -----------------------------------------------------------
def _handle(stream: Any) -> int:
    if stream is None:
        return 0
    if not isinstance(stream, Stream):
        raise TypeError(f"stream must be a pycuda.driver.Stream or None, got {type(stream).__name__}")
    return stream._handle


def enqueue(handle: int, what: str, run: Callable[[], None], cost_ms: float = 0.0) -> _Op:
    """Queue `run` on stream `handle` (0 = default stream); it runs when the stream is waited for."""
    op = _Op(int(handle), what, run, cost_ms)
    with MEMORY.lock:
        MEMORY.pending.append(op)
    STATE.recorder.stream_ops.append(what)
    STATE.recorder.op_streams.append(int(handle))
    return op


def copy_ms(nbytes: int) -> float:
    return COPY_MS_FIXED + nbytes / COPY_BYTES_PER_MS


def flush(handle: Optional[int] = None, upto: Optional[_Op] = None) -> None:
    """Run pending work: everything (handle None or 0: the legacy default stream waits for all blocking streams),
    else stream `handle`'s work (up to `upto`) and the default-stream work before it, with all that precedes that."""
    with MEMORY.lock:
        pending = MEMORY.pending
        if handle is None or handle == 0:
            chosen = list(pending)
        else:
            last = pending.index(upto) if upto is not None and upto in pending else max(
                (i for i, op in enumerate(pending) if op.handle == handle), default=-1)
            barrier = max((i for i, op in enumerate(pending[:last + 1]) if op.handle == 0), default=-1)
            chosen = [op for i, op in enumerate(pending) if i <= last and (op.handle in (handle, 0) or i < barrier)]
        for op in chosen:
            pending.remove(op)
        for op in chosen:
            op.run()
            MEMORY.clock_ms += op.cost_ms


def pending_work(handle: Optional[int] = None) -> List[str]:
    """What is still queued (on one stream, or on all): for tests."""
    return [op.what for op in MEMORY.pending if handle is None or op.handle == handle]


class Device(_Guarded):
    """pycuda.driver.Device: only ordinal 0 exists."""

    _pycuda_name = "Device"

    def __init__(self, ordinal: int) -> None:
        _require_init()
        if int(ordinal) != 0:
            raise LogicError(f"cuDeviceGet failed: invalid device ordinal {ordinal}")
        self._ordinal = 0

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


class Context(_Guarded):
    """pycuda.driver.Context: push/pop on the calling thread's stack; popping an empty stack is an error."""

    _pycuda_name = "Context"

    def __init__(self, device: Device, primary: bool) -> None:
        self._device = device
        self._primary = primary
        self._detached = False

    @property
    def handle(self) -> int:
        return 0xC0000 + (1 if self._primary else id(self) % 0xFFFF)

    def push(self) -> None:
        if self._detached:
            raise LogicError("cuCtxPushCurrent failed: context was detached")
        MEMORY.stack().append(self)

    @staticmethod
    def pop() -> None:
        stack = MEMORY.stack()
        if not stack:
            raise LogicError("cuCtxPopCurrent failed: invalid device context (the context stack of this thread is empty)")
        stack.pop()

    @staticmethod
    def get_current() -> Optional["Context"]:
        stack = MEMORY.stack()
        return stack[-1] if stack else None

    @staticmethod
    def get_device() -> Device:
        stack = MEMORY.stack()
        if not stack:
            raise LogicError("cuCtxGetDevice failed: invalid device context")
        return stack[-1]._device

    @staticmethod
    def synchronize() -> None:
        _require_context("cuCtxSynchronize")
        flush()

    def detach(self) -> None:
        stack = MEMORY.stack()
        if stack and stack[-1] is self:
            stack.pop()
        self._detached = True


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


class DeviceAllocation(_Guarded):
    """Device memory: int(ptr) is its address; reading or writing outside it or after free() raises LogicError.

    Only `mem_alloc` makes one (pycuda binds no Python constructor for it)."""

    _pycuda_name = "DeviceAllocation"

    def __init__(self, *_: Any) -> None:
        raise TypeError("pycuda._driver.DeviceAllocation: No constructor defined! (use pycuda.driver.mem_alloc)")

    @classmethod
    def _make(cls, nbytes: int) -> "DeviceAllocation":
        self = object.__new__(cls)
        self._nbytes = int(nbytes)
        self._address = MEMORY.next_address
        MEMORY.next_address += (self._nbytes + _ALIGN - 1) // _ALIGN * _ALIGN + _ALIGN  # a guard gap between blocks
        self._data: Optional[np.ndarray] = np.zeros(self._nbytes, dtype=np.uint8)
        bisect.insort(MEMORY.bases, self._address)
        MEMORY.blocks[self._address] = self
        STATE.recorder.allocations += 1
        return self

    def __int__(self) -> int:
        return self._address

    __index__ = __int__

    def free(self) -> None:
        if self._data is None:
            return
        self._data = None
        STATE.recorder.frees += 1

    def __del__(self) -> None:  # pycuda frees device memory when the allocation object is collected
        if getattr(self, "_data", None) is not None:
            self._data = None
            STATE.recorder.frees_by_gc += 1


def mem_alloc(nbytes: int) -> DeviceAllocation:
    _require_context("cuMemAlloc")
    if int(nbytes) <= 0:
        raise LogicError("cuMemAlloc failed: invalid value (size 0)")
    return DeviceAllocation._make(int(nbytes))


def live_allocations() -> List[DeviceAllocation]:
    return [b for b in MEMORY.blocks.values() if b._data is not None]


def resolve(pointer: Any, nbytes: int, what: str) -> Tuple[DeviceAllocation, int]:
    """(allocation, offset) for `nbytes` at `pointer`; LogicError for a freed, unknown or too-small range."""
    address = int(pointer)
    index = bisect.bisect_right(MEMORY.bases, address) - 1
    if index < 0:
        raise LogicError(f"{what}: {address:#x} is not device memory")
    block = MEMORY.blocks[MEMORY.bases[index]]
    offset = address - block._address
    if offset >= max(block._nbytes, 1):
        raise LogicError(f"{what}: {address:#x} is not inside any allocation")
    if block._data is None:
        raise LogicError(f"{what}: {address:#x} was freed (use after free)")
    if offset + nbytes > block._nbytes:
        raise LogicError(
            f"{what}: {nbytes} bytes at {address:#x} run past the end of a {block._nbytes}-byte allocation (out of bounds)"
        )
    return block, offset


def read(pointer: Any, nbytes: int, what: str = "device read") -> bytes:
    block, offset = resolve(pointer, nbytes, what)
    assert block._data is not None
    return block._data[offset:offset + nbytes].tobytes()


def write(pointer: Any, data: bytes, what: str = "device write") -> None:
    block, offset = resolve(pointer, len(data), what)
    assert block._data is not None
    block._data[offset:offset + len(data)] = np.frombuffer(data, dtype=np.uint8)


# -- host memory -------------------------------------------------------------------------------------
class PagelockedHostAllocation(_Guarded, mmap.mmap):
    """Page-locked host memory (`HostAllocation` is the same class): the buffer behind pagelocked_empty's array."""

    _pycuda_name = "PagelockedHostAllocation"

    def free(self) -> None:
        self._freed = True

    def get_flags(self) -> int:
        return 0

    def _span(self) -> Tuple[int, int]:
        start = int(np.frombuffer(self, dtype=np.uint8).ctypes.data)
        return start, start + len(self)


def _host_address(array: Any) -> int:
    return int(np.asarray(array).__array_interface__["data"][0])


def is_pinned(array: Any) -> bool:
    """True when `array` lies in memory from pagelocked_empty (what makes a copy truly asynchronous)."""
    if not isinstance(array, np.ndarray) or array.size == 0:
        return False
    address = _host_address(array)
    for alloc in MEMORY.pinned:
        start, end = alloc._span()
        if start <= address < end:
            if getattr(alloc, "_freed", False):
                raise LogicError("page-locked host memory used after free()")
            return True
    return False


def pagelocked_empty(shape: Any, dtype: Any, order: str = "C", mem_flags: int = 0) -> np.ndarray:
    _require_context("cuMemHostAlloc")
    dt = np.dtype(dtype)
    count = int(np.prod(shape)) if np.ndim(shape) else int(shape)
    alloc = PagelockedHostAllocation(-1, max(count * dt.itemsize, 1))
    MEMORY.pinned.append(alloc)
    STATE.recorder.pinned_buffers += 1
    return np.ndarray(shape, dtype=dt, buffer=alloc, order=order)  # type: ignore[call-overload]  # .base is the allocation


def _contiguous(buffer: Any, what: str, writable: bool = False) -> np.ndarray:
    """The buffer as a byte view; pycuda asks for PyBUF_ANY_CONTIGUOUS (and a writable one for a destination)."""
    array = buffer if isinstance(buffer, np.ndarray) else np.asarray(memoryview(buffer))
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        raise BufferError(f"{what}: ndarray is not contiguous (pycuda copies whole C- or F-contiguous buffers)")
    if writable and not array.flags.writeable:
        raise BufferError(f"{what}: the destination buffer is read-only")
    return array


def _host_bytes(src: Any, what: str) -> bytes:
    return _contiguous(src, what).tobytes(order="A")


def _fill_host(dest: np.ndarray, data: bytes) -> None:
    dest.reshape(-1, order="A").view(np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)


def memcpy_htod(dest: Any, src: Any) -> None:
    _require_context("cuMemcpyHtoD")
    data = _host_bytes(src, "cuMemcpyHtoD")
    flush()  # a synchronous copy on the legacy default stream waits for all earlier work
    write(dest, data, "cuMemcpyHtoD")


def memcpy_dtoh(dest: Any, src: Any) -> None:
    _require_context("cuMemcpyDtoH")
    target = _contiguous(dest, "cuMemcpyDtoH", writable=True)
    flush()
    _fill_host(target, read(src, target.nbytes, "cuMemcpyDtoH"))


def memcpy_htod_async(dest: Any, src: Any, stream: Any = None) -> None:
    handle = _handle(stream)
    _require_context("cuMemcpyHtoDAsync")
    source = _contiguous(src, "cuMemcpyHtoDAsync")
    staged = None if is_pinned(source) else source.tobytes(order="A")  # pageable: staged now; pinned: read when it runs
    pointer = int(dest)

    def run() -> None:
        write(pointer, staged if staged is not None else source.tobytes(order="A"), "cuMemcpyHtoDAsync")

    enqueue(handle, "memcpy_htod_async", run, copy_ms(source.nbytes))


def memcpy_dtoh_async(dest: Any, src: Any, stream: Any = None) -> None:
    handle = _handle(stream)
    _require_context("cuMemcpyDtoHAsync")
    target = _contiguous(dest, "cuMemcpyDtoHAsync", writable=True)
    pointer = int(src)
    op = enqueue(handle, "memcpy_dtoh_async", lambda: _fill_host(target, read(pointer, target.nbytes, "cuMemcpyDtoHAsync")),
                 copy_ms(target.nbytes))
    if is_pinned(target):
        target.reshape(-1, order="A").view(np.uint8)[:] = POISON  # not there yet: whoever reads now reads garbage
    else:
        flush(handle, op)  # pageable destination: the call returns once the copy is done (CUDA docs)


class Stream(_Guarded):
    """pycuda.driver.Stream: `.handle` is what TensorRT's execute_async_v3 takes; work runs at synchronize()."""

    _pycuda_name = "Stream"

    def __init__(self, flags: int = 0) -> None:
        _require_context("cuStreamCreate")
        self._handle = next(MEMORY.handle_counter)
        MEMORY.stream_handles[self._handle] = self
        STATE.recorder.streams_created += 1

    @property
    def handle(self) -> int:
        return self._handle

    def synchronize(self) -> None:
        _require_context("cuStreamSynchronize")
        flush(self._handle)

    def is_done(self) -> bool:
        return not pending_work(self._handle)


class Event(_Guarded):
    """pycuda.driver.Event: record on a stream, then time_since(earlier) in milliseconds (pycuda driver docs).

    An event completes when its stream reaches it; its time is the virtual device clock then (copies and engine runs
    advance it by fixed amounts: exact, repeatable, and never a GPU timing).
    """

    _pycuda_name = "Event"

    def __init__(self, flags: int = 0) -> None:
        _require_context("cuEventCreate")
        self._at: Optional[float] = None
        self._op: Optional[_Op] = None
        STATE.recorder.events_created += 1

    def record(self, stream: Any = None) -> "Event":
        handle = _handle(stream)
        self._at = None

        def reached() -> None:
            self._at = MEMORY.clock_ms

        self._op = enqueue(handle, "event_record", reached)
        self._stream = handle
        return self

    def synchronize(self) -> "Event":
        if self._op is not None:
            flush(self._stream, self._op)
        return self

    def query(self) -> bool:
        return self._at is not None

    def time_since(self, event: "Event") -> float:
        if self._op is None or event._op is None:
            raise LogicError("cuEventElapsedTime failed: invalid resource handle (an event was never recorded)")
        if self._at is None or event._at is None:
            raise RuntimeError_("cuEventElapsedTime failed: device not ready (the stream has not reached the event; synchronize first)")
        return self._at - event._at

    def time_till(self, event: "Event") -> float:
        return event.time_since(self)


# -- the module ------------------------------------------------------------------------------------------
class PycudaModule(types.ModuleType):
    """`pycuda.driver`: names absent from pycuda-api-*.json raise AttributeError, listed-but-not-emulated ones
    NotImplementedError (the same rule as the tensorrt module)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in pycuda_members("<module>"):
            raise not_emulated("<module>", name)
        raise AttributeError(f"module 'pycuda.driver' has no attribute '{name}'")


def driver_module() -> PycudaModule:
    """A `pycuda.driver` module object with the emulated names (the shim puts it in sys.modules)."""
    module = PycudaModule("pycuda.driver")
    names = {
        "Error": Error, "LogicError": LogicError, "RuntimeError": RuntimeError_, "init": init, "Device": Device, "Context": Context,
        "DeviceAllocation": DeviceAllocation, "mem_alloc": mem_alloc, "pagelocked_empty": pagelocked_empty, "Stream": Stream,
        "Event": Event, "memcpy_htod": memcpy_htod, "memcpy_dtoh": memcpy_dtoh, "memcpy_htod_async": memcpy_htod_async,
        "memcpy_dtoh_async": memcpy_dtoh_async, "PagelockedHostAllocation": PagelockedHostAllocation,
        "HostAllocation": PagelockedHostAllocation,
    }
    for key, value in names.items():
        assert key in pycuda_members("<module>"), key
        setattr(module, key, value)
    return module
