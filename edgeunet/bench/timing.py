"""How a row is timed: warm-up then many runs, percentiles, peak memory, and the machine it ran on.

Timing method (printed next to the table, written into the Markdown report, like trtexec's summary):
  * model-only latency = one `Backend.run(batch)` call: host tensor in, host numpy out. Included: the
    framework call, the graph, and for GPU backends the copies to and from the device (torch CUDA syncs
    by `.cpu()`; TensorRT does H2D -> execute -> D2H -> synchronize). Not included: reading/decoding the
    image, `preprocess` (resize, normalise) and `postprocess` (threshold/argmax, resize back).
  * `warmup` untimed runs first (lazy init, allocator, cuDNN/ORT kernel choice), then `iterations`
    timed runs (or as many as fit in `duration` seconds), each timed with time.perf_counter().
  * reported: mean, p50, p95, p99 (linear interpolation), FPS = batch * 1000 / mean latency (ms);
    speed-up = FPS / FPS of fp32 on the same backend, batch and size.
  * end-to-end pipeline FPS (with --video): frames through read -> preprocess -> infer -> postprocess
    -> overlay, measured by the stream code (edgeunet.stream.pipeline) when it is installed.
  * peak memory: the largest resident set size (psutil) of this process, sampled every 20 ms while
    the row loads, warms up and runs (it includes the Python interpreter and earlier rows' libraries).

Percentiles come from edgeunet.stream.stats, so `bench` and `stream` tables are computed by the same code.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from edgeunet.bench.config import BenchConfig
from edgeunet.core.cpu import cpu_from_cpuinfo, cpu_info
from edgeunet.stream.stats import summarize

__all__ = ["TIMING_METHOD", "RssSampler", "cpu_from_cpuinfo", "cpu_info", "machine_info", "summarize", "time_backend", "timing_method"]

TIMING_METHOD = (
    "Timing: model-only latency is one Backend.run(batch) call (host tensor in, host array out; for GPU backends the "
    "H2D/D2H copies and the final synchronize are included). Not included: image decode, preprocess, postprocess. "
    "{warmup} untimed warm-up runs, then {count}; each run timed with time.perf_counter(). "
    "Reported: mean, p50, p95, p99 (linear interpolation); FPS = batch x 1000 / mean ms; x fp32 = FPS over fp32 on the same "
    "backend, batch and size. Pipeline FPS (--video): read -> preprocess -> infer -> postprocess -> overlay, via edgeunet.stream.pipeline. "
    "Peak RSS: this process's largest resident set (psutil, 20 ms samples) while the row ran. Dice/mIoU: edgeunet.evaluate.evaluate on --data."
)


class RssSampler:
    """Peak resident set size of this process while a block runs (psutil, sampled in a thread)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process(os.getpid())
        while True:
            self.peak = max(self.peak, int(proc.memory_info().rss))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def time_backend(
    run: Callable[[np.ndarray], Any], batch: np.ndarray, warmup: int, iterations: Optional[int], duration: Optional[float]
) -> List[float]:
    """Per-run latencies in ms after `warmup` untimed runs; `iterations` runs, or as many as fit in `duration` s."""
    for _ in range(warmup):
        run(batch)
    latencies: List[float] = []
    clock = time.perf_counter
    if duration is not None:
        end = clock() + duration
        while clock() < end or not latencies:
            t0 = clock()
            run(batch)
            latencies.append((clock() - t0) * 1000.0)
        return latencies
    for _ in range(iterations or 1):
        t0 = clock()
        run(batch)
        latencies.append((clock() - t0) * 1000.0)
    return latencies


def timing_method(cfg: BenchConfig) -> str:
    count = f"{cfg.duration:g} s of timed runs" if cfg.duration is not None else f"{cfg.iterations} timed runs"
    return TIMING_METHOD.format(warmup=cfg.warmup, count=count)


def machine_info() -> Dict[str, Any]:
    info: Dict[str, Any] = {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
                            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), **cpu_info()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    from edgeunet.trt import tensorrt_version

    info["tensorrt"] = tensorrt_version()
    return info


