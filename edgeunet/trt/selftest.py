"""The TensorRT half of `edgeunet doctor --selftest`: build an fp32 engine from an ONNX file, run it, time it.

Why it reuses build.py and runner.py instead of a minimal stand-alone builder: the selftest is the user's proof
that *edgeunet's* TensorRT path works on their hardware (version-aware flags, name-based I/O, pinned buffers,
execute_async_v3 on the primary context), so it must exercise exactly that code. The ONNX generation and the
comparison with ONNX Runtime live in edgeunet/doctor.py (no TensorRT there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from edgeunet.core.errors import MissingDependencyError

if TYPE_CHECKING:
    import numpy.typing as npt


@dataclass
class SelftestRun:
    """What the engine produced, and where and how fast."""

    outputs: Dict[str, npt.NDArray[Any]]
    tensorrt_version: str
    gpu_name: str
    compute_capability: Tuple[int, int]
    build_seconds: float
    engine_bytes: int
    latencies_ms: List[float]


def _check_pycuda() -> None:
    """Fail before a build that could not be run anyway."""
    from edgeunet.trt import pycuda_version
    from edgeunet.trt.cuda import PYCUDA_HINT

    if pycuda_version() is None:
        raise MissingDependencyError(PYCUDA_HINT)


def build_and_run(onnx_path: Path, inputs: Dict[str, npt.NDArray[Any]], runs: int = 50, warmup: int = 5) -> SelftestRun:
    """fp32 engine from `onnx_path` (static shape of `inputs`), one checked inference, then `runs` timed ones."""
    from edgeunet.trt.build import build_engine, import_tensorrt_version
    from edgeunet.trt.plan import plan_build
    from edgeunet.trt.runner import EngineRunner

    version = import_tensorrt_version()
    _check_pycuda()
    plan = plan_build(version, "fp32")
    shape = tuple(int(d) for d in next(iter(inputs.values())).shape)
    built, _ = build_engine(onnx_path, plan, shape)  # TensorRT/CUDA failures come back as one EdgeUnetError line
    runner = EngineRunner(built.plan_bytes, "selftest engine")
    try:
        outputs = runner.infer(inputs)
        for _ in range(warmup):
            runner.infer(inputs)
        latencies: List[float] = []
        for _ in range(runs):
            start = time.perf_counter()
            runner.infer(inputs)
            latencies.append((time.perf_counter() - start) * 1000.0)
        gpu_name = runner.session.device_name()
        capability = runner.session.compute_capability()
    finally:
        runner.close()
    import tensorrt as trt

    return SelftestRun(
        outputs=outputs,
        tensorrt_version=str(trt.__version__),
        gpu_name=gpu_name,
        compute_capability=capability,
        build_seconds=built.seconds,
        engine_bytes=len(built.plan_bytes),
        latencies_ms=latencies,
    )
