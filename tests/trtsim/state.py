"""Process-wide emulator state: the selected version, the fake GPU, and a recorder tests assert on.

Why global: the real tensorrt/pycuda modules are process-wide singletons too (one driver, one device, one
plugin registry); the recorder is reset by `reset()` (the install fixture calls it).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from tests.trtsim.surface import DEFAULT_VERSION, normalize


def _env_cc() -> Tuple[int, int]:
    text = os.environ.get("EDGEUNET_TRTSIM_CC", "8.7")
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


@dataclass
class Gpu:
    """The emulated device (pycuda.driver.Device(0)); an engine records it and refuses another one on load."""

    name: str = field(default_factory=lambda: os.environ.get("EDGEUNET_TRTSIM_GPU", "NVIDIA Emulated GPU"))
    compute_capability: Tuple[int, int] = field(default_factory=_env_cc)
    dla_cores: int = field(default_factory=lambda: int(os.environ.get("EDGEUNET_TRTSIM_DLA_CORES", "0")))
    total_memory: int = 8 << 30


@dataclass
class Recorder:
    """What happened, in order, for tests to assert on (read it with `trtsim.state()`)."""

    log: List[Tuple[str, str]] = field(default_factory=list)  # (severity name, message) of every logger message
    calibrator_calls: List[str] = field(default_factory=list)  # method names as TensorRT called them
    calibrator_errors: List[str] = field(default_factory=list)  # "get_batch: ValueError: ..." as printed
    batches_fed: int = 0
    calibration_scales: Dict[str, float] = field(default_factory=dict)
    timing_cache: List[str] = field(default_factory=list)  # created-empty | created-from-blob | corrupt | set-accepted | set-rejected
    loggers_created: int = 0
    builders_created: int = 0
    runtimes_created: int = 0
    engines_built: int = 0
    engines_loaded: int = 0
    load_failures: List[str] = field(default_factory=list)
    executions: int = 0
    engine_dla_cores: List[int] = field(default_factory=list)  # the DLA core each loaded DLA engine runs on
    allocations: int = 0
    frees: int = 0
    frees_by_gc: int = 0
    pinned_buffers: int = 0
    streams_created: int = 0
    events_created: int = 0
    stream_ops: List[str] = field(default_factory=list)  # every enqueued op, in order (memcpy_htod_async, execute_async_v3, ...)
    op_streams: List[int] = field(default_factory=list)  # the stream handle of each of them (0 = the default stream)
    memory_pools: Dict[str, int] = field(default_factory=dict)  # MemoryPoolType name -> limit, of the last build
    notes: List[str] = field(default_factory=list)

    def messages(self, severity: Optional[str] = None) -> List[str]:
        return [m for s, m in self.log if severity is None or s == severity]


class _State:
    def __init__(self) -> None:
        self.version = normalize(os.environ.get("EDGEUNET_TRTSIM_VERSION", DEFAULT_VERSION))
        self.gpu = Gpu()
        self.recorder = Recorder()
        self.lock = threading.RLock()
        self.extra: Dict[str, Any] = {}


STATE = _State()


def select_version(version: str) -> str:
    """Emulate TensorRT `version` ('8.5', '8.6', '10.3', '11'); takes effect for modules installed afterwards."""
    STATE.version = normalize(version)
    return STATE.version


def current_version() -> str:
    return STATE.version


def configure_gpu(name: Optional[str] = None, compute_capability: Optional[Tuple[int, int]] = None, dla_cores: Optional[int] = None) -> Gpu:
    """Change the emulated device (e.g. to load an engine 'on another GPU')."""
    if name is not None:
        STATE.gpu.name = name
    if compute_capability is not None:
        STATE.gpu.compute_capability = (int(compute_capability[0]), int(compute_capability[1]))
    if dla_cores is not None:
        STATE.gpu.dla_cores = int(dla_cores)
    return STATE.gpu


def state() -> Recorder:
    """The recorder of everything the emulated TensorRT and pycuda did since the last reset()."""
    return STATE.recorder


def reset() -> None:
    """Fresh recorder, default GPU, no device memory or contexts (the version stays as selected)."""
    from tests.trtsim import cuda

    STATE.recorder = Recorder()
    STATE.gpu = Gpu()
    STATE.extra.pop("global_logger", None)
    cuda.reset_device()
