"""What `edgeunet stream` can be told (StreamOptions, one field per CLI flag), checked in one place.

Why a module of its own: the pipeline, the `Stream` API and the command all read these options,
and none of them should import the others just for a dataclass.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from edgeunet.core.errors import EdgeUnetError

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
        if self.reconnect < 0 or self.queue_size < 1 or self.warmup < 0:
            raise EdgeUnetError("--reconnect, queue size and warm-up must not be negative")
        return self



LIVE_STAGE_NICE = 5  # measured: benchmarks/results/stream-realtime-*.md


def live_threads() -> int:
    """Intra-op threads for a live stream when the user gave none: every core but one, which decode/overlay/encode keep.

    Why: with as many inference threads as cores, each frame's decode and JPEG encode preempt one of
    them and the parallel operator waits for it (the p99 of capture-to-display doubled on 2 cores).
    """
    return max(1, (os.cpu_count() or 2) - 1)


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
