"""The one latency recorder: `stream` and `bench` report percentiles computed the same way.

Why a module of its own: a p99 is only comparable between two tables when both were computed by the
same code from the same kind of samples (per-run milliseconds, linear-interpolation percentiles).

Memory stays bounded on a camera that runs for days: count, mean, min and max are exact running
values; the percentiles come from every sample up to `cap` per stage, then from a uniform random
reservoir of `cap` samples (Vitter's algorithm R), which keeps percentiles unbiased.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, Iterable, List, Optional, Sequence

import numpy as np

STAGES = ("capture", "preprocess", "inference", "postprocess", "overlay", "sink")
END_TO_END = "end_to_end"
CAPTURE_TO_DISPLAY = "capture_to_display"  # live or --realtime only: the frame's capture time to the moment the sinks had it
WINDOWED = (END_TO_END, CAPTURE_TO_DISPLAY)  # stages whose recent samples the live page's sparkline reads
RECENT_S = 60.0
STAGE_LABELS = {
    "capture": "capture/decode",
    "preprocess": "preprocess",
    "inference": "inference",
    "postprocess": "postprocess",
    "overlay": "overlay",
    "sink": "sink",
    END_TO_END: "end-to-end",
    CAPTURE_TO_DISPLAY: "capture-to-display",
}
COUNTERS = ("captured", "frames", "dropped", "corrupt", "reconnects", "loops")
DEFAULT_CAP = 100_000


def summarize(values_ms: Sequence[float] | np.ndarray) -> Dict[str, float]:
    """mean/p50/p95/p99/min/max/std of latencies in ms (percentiles: linear interpolation)."""
    values = np.asarray(values_ms, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no latencies recorded")
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "mean": float(values.mean()), "p50": float(p50), "p95": float(p95), "p99": float(p99),
        "min": float(values.min()), "max": float(values.max()), "std": float(values.std()),
    }


class Samples:
    """One stage's latencies: exact count/mean/min/max, percentiles from at most `cap` kept values."""

    __slots__ = ("_lock", "_rng", "cap", "count", "kept", "last", "maximum", "minimum", "total", "values")

    def __init__(self, cap: int = DEFAULT_CAP, seed: int = 0) -> None:
        self.cap = max(1, int(cap))
        self.values = np.full(self.cap, np.nan)  # written now, so its pages are resident from the start
        self.kept = 0
        self.count = 0
        self.total = 0.0
        self.minimum = float("inf")
        self.maximum = 0.0
        self.last = 0.0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, ms: float) -> None:
        with self._lock:
            self.count += 1
            self.total += ms
            self.last = ms
            self.minimum = min(self.minimum, ms)
            self.maximum = max(self.maximum, ms)
            if self.kept < self.cap:
                self.values[self.kept] = ms
                self.kept += 1
                return
            slot = self._rng.randrange(self.count)
            if slot < self.cap:
                self.values[slot] = ms

    def summary(self) -> Dict[str, float]:
        with self._lock:
            if self.count == 0:
                return {"count": 0}
            out = summarize(self.values[: self.kept])
            out.update(mean=self.total / self.count, min=self.minimum, max=self.maximum, count=self.count)
        return out


class LatencyRecorder:
    """Per-stage latency samples, event counters and the wall clock of one run.

    Thread-safe: every pipeline stage adds to its own `Samples`; counters take a lock.
    """

    def __init__(self, stages: Iterable[str] = (*STAGES, END_TO_END), cap: int = DEFAULT_CAP, window: int = 30) -> None:
        self.samples: Dict[str, Samples] = {name: Samples(cap) for name in stages}
        self.counters: Dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.started: Optional[float] = None
        self.stopped: Optional[float] = None
        self._done: Deque[float] = deque(maxlen=max(2, window))
        self._recent: Dict[str, Deque[Any]] = {name: deque(maxlen=8192) for name in WINDOWED}
        self._lock = threading.Lock()

    # -- recording ----------------------------------------------------------------------------
    def start(self) -> None:
        self.started = time.perf_counter()
        self.stopped = None

    def stop(self) -> None:
        if self.stopped is None:
            self.stopped = time.perf_counter()

    def add(self, stage: str, ms: float) -> None:
        samples = self.samples.get(stage)
        if samples is None:
            with self._lock:
                samples = self.samples.setdefault(stage, Samples())
        samples.add(float(ms))
        recent = self._recent.get(stage)
        if recent is not None:
            recent.append((time.perf_counter(), float(ms)))  # deque.append is atomic: no lock on the hot path

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def frame_done(self, when: Optional[float] = None) -> None:
        """One frame reached the end of the pipeline (processed FPS and the HUD's rolling FPS)."""
        with self._lock:
            self.counters["frames"] += 1
            self._done.append(time.perf_counter() if when is None else when)

    # -- reading ------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.counters["frames"]

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        end = self.stopped if self.stopped is not None else time.perf_counter()
        return max(0.0, end - self.started)

    @property
    def fps(self) -> float:
        """Processed frames over the wall time of the run (pipeline fill included: no flattering window)."""
        elapsed = self.elapsed
        return self.frames / elapsed if elapsed > 0 else 0.0

    def rolling_fps(self) -> float:
        """FPS over the last `window` finished frames: what a HUD should show."""
        with self._lock:
            if len(self._done) < 2:
                return 0.0
            span = self._done[-1] - self._done[0]
            return (len(self._done) - 1) / span if span > 0 else 0.0

    def last(self, stage: str) -> float:
        samples = self.samples.get(stage)
        return samples.last if samples is not None else 0.0

    def recent(self, stage: str, seconds: float = RECENT_S) -> List[Any]:
        """(perf_counter time, ms) of `stage`'s samples in the last `seconds`: the live page's sparkline."""
        cutoff = time.perf_counter() - seconds
        return [item for item in list(self._recent.get(stage, ())) if item[0] >= cutoff]

    def summary(self) -> Dict[str, Dict[str, float]]:
        return {name: s.summary() for name, s in self.samples.items()}

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: counters, processed FPS, wall time and every stage's summary (ms)."""
        return {
            **{k: int(v) for k, v in self.counters.items()},
            "fps": round(self.fps, 3),
            "wall_s": round(self.elapsed, 3),
            "units": "ms",
            "stages": {name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for name, s in self.summary().items()},
        }

    # -- presentation -------------------------------------------------------------------------
    def table_rows(self) -> List[List[str]]:
        rows = []
        for name, s in self.summary().items():
            if not s.get("count"):
                rows.append([STAGE_LABELS.get(name, name), "0", "", "", "", "", ""])
                continue
            rows.append([STAGE_LABELS.get(name, name), str(int(s["count"]))] + [f"{s[k]:.2f}" for k in ("mean", "p50", "p95", "p99", "max")])
        return rows

    def table(self, title: str = "latency (ms)") -> Any:
        from rich.table import Table

        table = Table(title=title)
        for i, col in enumerate(("stage", "frames", "mean", "p50", "p95", "p99", "max")):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in self.table_rows():
            table.add_row(*row)
        return table

    def counters_line(self) -> str:
        c = self.counters
        return (f"{c['frames']} frames processed in {self.elapsed:.1f} s = {self.fps:.2f} FPS; captured {c['captured']}, "
                f"dropped {c['dropped']}, corrupt {c['corrupt']}, reconnects {c['reconnects']}")

    def print(self, title: str = "latency (ms)", console: Any = None) -> None:
        from rich.console import Console

        console = console or Console(soft_wrap=False)
        console.print(self.table(title))
        console.print(self.counters_line(), markup=False, highlight=False)
