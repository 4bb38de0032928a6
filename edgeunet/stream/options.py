"""What `edgeunet stream` can be told (StreamOptions, one field per CLI flag), checked in one place.

Why a module of its own: the pipeline, the `Stream` API and the command all read these options,
and none of them should import the others just for a dataclass.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Callable, Optional, Set, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.processing import check_upsample

OVERLAYS = ("alpha", "mask", "side", "contour")
Log = Callable[[str], None]


@dataclass
class StreamOptions:
    """How frames are drawn, paced and recovered; the CLI flags of `edgeunet stream`, one for one."""

    overlay: str = "alpha"  # alpha | mask | side | contour
    alpha: float = 0.45
    hud: bool = True
    max_frames: Optional[int] = None
    realtime: bool = False  # pace a file like a camera at its own FPS (or `fps`), dropping what the model cannot keep up with
    fps: Optional[float] = None  # pacing rate for --realtime and the frame rate written into video outputs
    loop: bool = False
    reconnect: int = 3  # live source lost: reopen attempts (back-off 0.5, 1, 2, 4, 8, 8... s) before the run ends
    reconnect_delay: float = 0.5
    queue_size: int = 2
    warmup: int = 3  # untimed inferences before the clock starts
    stage_nice: Optional[int] = None  # Linux: niceness added to every stage thread but inference; None: 5 live/--realtime, else 0
    pin_stages: Optional[bool] = None  # Linux: inference on its own cores, the other stages on the last; None: reserve_stage_core()
    upsample: str = "fast"  # fast: full-resolution masks without resizing every logit plane | logits: the reference path

    def check(self) -> "StreamOptions":
        if self.overlay not in OVERLAYS:
            raise EdgeUnetError(f"--overlay {self.overlay}: choose from {', '.join(OVERLAYS)}")
        if not 0.0 <= self.alpha <= 1.0:
            raise EdgeUnetError(f"--alpha {self.alpha}: must be between 0 and 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise EdgeUnetError(f"--max-frames {self.max_frames}: must be at least 1")
        if self.fps is not None and self.fps <= 0:
            raise EdgeUnetError(f"--fps {self.fps}: must be above 0")
        if self.stage_nice is not None and not 0 <= self.stage_nice <= 19:
            raise EdgeUnetError(f"--stage-nice {self.stage_nice}: must be from 0 to 19")
        check_upsample(self.upsample)
        if self.reconnect < 0 or self.queue_size < 1 or self.warmup < 0:
            raise EdgeUnetError("--reconnect, queue size and warm-up must not be negative")
        return self



LIVE_STAGE_NICE = 5  # measured: benchmarks/results/stream-realtime-*.md


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. a container's cpuset), else os.cpu_count()."""
    getter = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter is not None else (os.cpu_count() or 1)


def reserve_stage_core(cores: Optional[int] = None) -> bool:
    """The default of --pin-stages for a live source or --realtime: keep the last core for decode/pixels/encode from 2 cores.

    Measured, not assumed (benchmarks/results/stream-pixels-2026-12-06.md): on an Intel Xeon (AVX-512, AMX),
    2 cores, ISBI width 16 paced at 10 fps, 5 runs each, 1 thread pinned against 2 threads unpinned gave
    p99/p50 1.43 vs 1.63 at 768x576 and 1.47 vs 1.54 at 1080p (p50 592 vs 817 ms) with the machine's load at
    12-14 from other jobs; issue 21's quieter runs on the same host class had 2 threads unpinned ahead (1.35-1.45
    vs 1.38-1.76). Where other processes compete for the cores, a parallel operator on every core waits for its
    slowest thread, so the reserved core wins; on a quiet machine the two are close. The ISA did not decide
    either result (ONNX Runtime's fp32 kernels do not use AMX), so the rule is by core count only.
    """
    return (usable_cores() if cores is None else cores) >= 2


def live_threads(cores: Optional[int] = None) -> int:
    """Intra-op threads for a live stream when the user gave none: every core but the reserved one (see reserve_stage_core).

    Why not all of them: with as many inference threads as cores, each frame's decode and JPEG
    encode preempt one of them and the parallel operator waits for it (the p99 of capture-to-display doubled).
    """
    cores = usable_cores() if cores is None else cores
    return max(1, cores - 1) if reserve_stage_core(cores) else max(1, cores)


def stage_cores() -> Optional[Tuple[Set[int], Set[int]]]:
    """(inference cores, other stages' core) from the cores this process may use, or None where pinning cannot help.

    Why pin: niceness only decides who runs first once both are runnable; a decode or JPEG encode woken on
    the inference thread's core still preempts it for a time slice. On its own cores inference is never
    preempted by our own stages.
    """
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None
    cores = sorted(getter(0))
    if len(cores) < 2:
        return None
    return set(cores[:-1]), {cores[-1]}


def pin_thread(cores: Optional[Set[int]]) -> None:
    """Bind the calling thread (Linux: affinity is per thread) to `cores`; None or failure: leave it where it is."""
    setter = getattr(os, "sched_setaffinity", None)
    if cores and setter is not None:
        with contextlib.suppress(OSError):
            setter(0, cores)


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's niceness by `nice` (Linux: threads are scheduled on their own); elsewhere a no-op.

    Why: with as many inference threads as cores, a decode or JPEG encode that preempts one of them
    stalls the whole parallel operator until it is done; at a lower priority they wait for the gaps.
    """
    get_id = getattr(threading, "get_native_id", None)
    if nice <= 0 or get_id is None or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        tid = get_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
