"""Mask stability: how much of the picture changes class between consecutive frames (flicker).

Why it is measured: a model that is right on average can still make a live overlay shimmer at
object edges; a camera user sees that as noise even when Dice is high. Reported per second
(the mean share of changed pixels over the frames of each wall-clock second) so a number is
comparable between a 10 fps camera and a 60 fps one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.stream.stats import summarize


class MaskStability:
    """Fed one mask per processed frame (by one thread, the postprocess stage); read from any thread."""

    def __init__(self, keep_seconds: int = 86_400) -> None:
        self._previous: Optional[np.ndarray] = None
        self._second: Optional[int] = None
        self._shares: List[float] = []  # this second's per-frame shares
        self.per_second: Deque[Tuple[float, float]] = deque(maxlen=keep_seconds)  # (second start, mean % changed)
        self.frames = 0
        self._lock = threading.Lock()

    def add(self, mask: np.ndarray, when: Optional[float] = None) -> Optional[float]:
        """% of pixels whose class differs from the previous mask (None for the first frame or a size change)."""
        previous, self._previous = self._previous, mask
        if previous is None or previous.shape != mask.shape:
            return None
        share = 100.0 * float(np.count_nonzero(previous != mask)) / float(mask.size)
        now = time.perf_counter() if when is None else when
        second = int(now)
        with self._lock:
            if self._second is not None and second != self._second and self._shares:
                self.per_second.append((float(self._second), float(np.mean(self._shares))))
                self._shares = []
            self._second = second
            self._shares.append(share)
            self.frames += 1
        return share

    def last_second(self) -> Optional[float]:
        """The latest finished second's flicker (%), or the running second's when none has finished yet."""
        with self._lock:
            if self.per_second:
                return self.per_second[-1][1]
            return float(np.mean(self._shares)) if self._shares else None

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: per-second flicker percentiles (% of pixels changing class between consecutive processed frames)."""
        with self._lock:
            values = [v for _, v in self.per_second] + ([float(np.mean(self._shares))] if self._shares else [])
        out: Dict[str, Any] = {"units": "% of pixels per frame, averaged per second", "frames_compared": self.frames, "seconds": len(values)}
        if values:
            out.update({k: round(v, 4) for k, v in summarize(values).items() if k in ("mean", "p50", "p95", "max")})
        return out
