"""What `edgeunet stream` can be told (StreamOptions, one field per CLI flag), checked in one place.

Why a module of its own: the pipeline, the `Stream` API and the command all read these options,
and none of them should import the others just for a dataclass.
"""

from __future__ import annotations

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

    def check(self) -> "StreamOptions":
        if self.overlay not in OVERLAYS:
            raise EdgeUnetError(f"--overlay {self.overlay}: choose from {', '.join(OVERLAYS)}")
        if not 0.0 <= self.alpha <= 1.0:
            raise EdgeUnetError(f"--alpha {self.alpha}: must be between 0 and 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise EdgeUnetError(f"--max-frames {self.max_frames}: must be at least 1")
        if self.fps is not None and self.fps <= 0:
            raise EdgeUnetError(f"--fps {self.fps}: must be above 0")
        if self.reconnect < 0 or self.queue_size < 1 or self.warmup < 0:
            raise EdgeUnetError("--reconnect, queue size and warm-up must not be negative")
        return self

