"""Jetson telemetry next to the latency series: GPU/CPU clocks, temperatures and power from `tegrastats`.

Why: on a Jetson a latency spike is often not the model but the board: the GPU clock (GR3D_FREQ)
drops under a thermal or power limit, or the governor has not ramped up yet. Sampling the clocks
once a second beside the frame latencies lets the --stats JSON say which spikes coincide with a
GPU clock drop. `parse_line` is pure (recorded lines from JetPack 5 and 6 are its unit tests);
`TegrastatsReader` is a small background reader of `tegrastats --interval 1000` that does nothing
where tegrastats does not exist (every machine but a Jetson). No torch, no NVIDIA Python package.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import statistics
import subprocess
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

INTERVAL_MS = 1000
KEEP_SAMPLES = 3600  # one hour at 1 Hz: bounded memory on a camera that runs for days
SPIKE_FACTOR = 2.0  # a frame whose latency is above this times the median is a spike
RECENT_MAX_S = 10.0  # "a GPU clock drop": the clock below its maximum over this many seconds before
MATCH_S = 1.5  # a spike and a telemetry sample coincide when at most this far apart
MAX_LISTED_SPIKES = 200

_TIME = re.compile(r"^(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d)\s+")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)MB")
_CPU = re.compile(r"\bCPU \[([^\]]*)\]")
_CPU_CORE = re.compile(r"(\d+)%@(\d+)")
# GR3D_FREQ 0%@305 (JetPack 5 Orin), 0%@[114] (JetPack 5 Xavier), 0%@[0,0] (AGX Orin, two GPCs), 0% (JetPack 6 Orin Nano/NX)
_GR3D = re.compile(r"\bGR3D_FREQ (?:(\d+)%)?(?:@\[?([\d,]+)\]?)?")
_EMC = re.compile(r"\bEMC_FREQ (\d+)%(?:@(\d+))?")
_TEMP = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*)@(-?\d+(?:\.\d+)?)C\b")
_POWER = re.compile(r"\b([A-Z][A-Z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?\b")
_NO_SENSOR_C = -256.0  # tegrastats prints -256C for a sensor that is powered off (CV0/1/2 on an idle DLA)


def parse_line(line: str) -> Optional[Dict[str, Any]]:
    """One tegrastats line -> {ram_mb, cpu_load, cpu_mhz, gpu_load, gpu_mhz, emc_mhz, temps_c, power_mw, time}; None if not one.

    Clocks in MHz (`gpu_mhz` is the highest GPC clock; None when this JetPack prints no GPU clock), temperatures in
    degrees C (powered-off sensors left out), power in mW (the instantaneous value, not tegrastats' running average).
    """
    ram = _RAM.search(line)
    if ram is None:
        return None
    sample: Dict[str, Any] = {"ram_mb": [int(ram.group(1)), int(ram.group(2))]}
    stamp = _TIME.match(line)
    if stamp:
        sample["time"] = stamp.group(1)
    cpu = _CPU.search(line)
    if cpu:
        cores = [_CPU_CORE.fullmatch(c.strip()) for c in cpu.group(1).split(",")]
        sample["cpu_load"] = [int(m.group(1)) if m else None for m in cores]  # None: the core is off
        sample["cpu_mhz"] = [int(m.group(2)) if m else None for m in cores]
    gr3d = _GR3D.search(line)
    if gr3d:
        sample["gpu_load"] = int(gr3d.group(1)) if gr3d.group(1) is not None else None
        clocks = [int(c) for c in (gr3d.group(2) or "").split(",") if c]
        sample["gpu_mhz"] = max(clocks) if clocks else None
    emc = _EMC.search(line)
    if emc:
        sample["emc_mhz"] = int(emc.group(2)) if emc.group(2) else None
    sample["temps_c"] = {name.lower(): float(v) for name, v in _TEMP.findall(line) if float(v) > _NO_SENSOR_C}
    sample["power_mw"] = {name: int(now) for name, now, _avg in _POWER.findall(line) if name not in ("RAM", "SWAP")}
    return sample


def available(command: str = "tegrastats") -> bool:
    """True where tegrastats exists: a Jetson (or a test that put a recorded one on PATH)."""
    return shutil.which(command) is not None


class TegrastatsReader:
    """`tegrastats --interval 1000` in the background; `samples` holds (perf_counter time, parsed line).

    start() and stop() are no-ops where tegrastats is absent, so the stream calls them unconditionally.
    Why a subprocess and not sysfs: tegrastats knows every board's rails and clocks; sysfs paths differ per module.
    """

    def __init__(self, command: str = "tegrastats", interval_ms: int = INTERVAL_MS, keep: int = KEEP_SAMPLES) -> None:
        self.command = command
        self.interval_ms = interval_ms
        self.samples: Deque[Tuple[float, Dict[str, Any]]] = deque(maxlen=keep)
        self.error: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def active(self) -> bool:
        return self._proc is not None

    def start(self) -> "TegrastatsReader":
        path = shutil.which(self.command)
        if path is None or self._proc is not None:
            return self
        try:
            self._proc = subprocess.Popen([path, "--interval", str(self.interval_ms)], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True, bufsize=1)
        except OSError as exc:
            self.error = f"tegrastats could not start: {exc}"
            return self
        self._thread = threading.Thread(target=self._read, name="tegrastats", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for line in proc.stdout:
            sample = parse_line(line)
            if sample is not None:
                self.samples.append((time.perf_counter(), sample))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)
        if self._thread is not None:
            self._thread.join(2)

    @property
    def idle(self) -> bool:
        """Never started (no tegrastats) and nothing recorded: there is nothing to report."""
        return not self.samples and self._thread is None

    def report(self, latencies: Sequence[Tuple[float, float]], started: Optional[float]) -> Dict[str, Any]:
        """What --stats stores: every sample (t_s from the run's start) and the latency spikes marked against the GPU clock."""
        if self.idle:
            return {"available": False, "reason": f"no {self.command} here (not a Jetson)" if not available(self.command) else self.error}
        origin = started if started is not None else (self.samples[0][0] if self.samples else 0.0)
        samples = [(t - origin, s) for t, s in list(self.samples)]
        series = [(t - origin, ms) for t, ms in latencies]
        return {"available": True, "command": f"{self.command} --interval {self.interval_ms}", "samples": len(samples),
                "series": [{"t_s": round(t, 3), **s} for t, s in samples], "spikes": mark_spikes(series, samples)}


def mark_spikes(latencies: Sequence[Tuple[float, float]], samples: Sequence[Tuple[float, Dict[str, Any]]],
                factor: float = SPIKE_FACTOR, window_s: float = RECENT_MAX_S, match_s: float = MATCH_S) -> Dict[str, Any]:
    """Frames slower than `factor` x the median latency, each marked `gpu_clock_drop` when the nearest telemetry sample
    (within `match_s`) shows GR3D_FREQ below its maximum over the `window_s` before it.

    `latencies` and `samples` are (seconds, value) on one clock. Pure: the unit tests feed it recorded series.
    """
    if not latencies:
        return {"median_ms": None, "threshold_ms": None, "factor": factor, "count": 0, "with_gpu_clock_drop": 0, "frames": []}
    median = statistics.median(ms for _, ms in latencies)
    threshold = factor * median
    clocks: List[Tuple[float, int]] = [(t, int(s["gpu_mhz"])) for t, s in samples if s.get("gpu_mhz") is not None]
    frames: List[Dict[str, Any]] = []
    count = dropped = 0
    for t, ms in latencies:
        if ms <= threshold:
            continue
        count += 1
        mark: Dict[str, Any] = {"t_s": round(t, 3), "ms": round(ms, 3), "gpu_clock_drop": False}
        near = min(clocks, key=lambda c: abs(c[0] - t), default=None)
        if near is not None and abs(near[0] - t) <= match_s:
            recent_max = max(mhz for ct, mhz in clocks if near[0] - window_s <= ct <= near[0])
            mark.update(gpu_mhz=near[1], gpu_mhz_recent_max=recent_max, gpu_clock_drop=bool(near[1] < recent_max))
        dropped += mark["gpu_clock_drop"]
        if len(frames) < MAX_LISTED_SPIKES:
            frames.append(mark)
    return {"median_ms": round(median, 3), "threshold_ms": round(threshold, 3), "factor": factor, "count": count,
            "with_gpu_clock_drop": dropped, "frames": frames}
