"""What every frame source is: `SourceSpec` (a parsed SOURCE argument), `Source` (the protocol the pipeline runs), read statuses.

Why a module of its own: the pipeline types against `Source` without importing OpenCV's openers, and a source
written in its own module imports these names from here, so the source table (edgeunet.stream.sources) can
import it without an import circle. This module imports no other stream module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Tuple, runtime_checkable

import numpy as np

OK, END, CORRUPT, LOST = "ok", "end", "corrupt", "lost"
Read = Tuple[str, Optional[np.ndarray], float]  # status, frame (BGR or gray uint8), arrival time (perf_counter)


@dataclass
class SourceSpec:
    """A parsed source URI. kind: a name in the source table (edgeunet.stream.sources.SOURCES)."""

    kind: str
    location: str  # what is opened (a network URL keeps its credentials here, and only here)
    options: Dict[str, Any] = field(default_factory=dict)
    text: str = ""  # what is shown: the user's text with any password or token replaced by *** (redact_uri)
    live: bool = False  # a camera or stream: frames that are late are dropped, a lost source is reconnected


@runtime_checkable
class Source(Protocol):
    """What the pipeline needs from a source: read() says what happened, so corrupt frames are skipped and a live
    source reconnects without the pipeline knowing which kind it is."""

    spec: SourceSpec
    live: bool
    fps: Optional[float]  # None when unknown (the run's --fps or 30 then)
    size: Optional[Tuple[int, int]]  # (width, height) when known before the first frame
    description: str  # 'a video file', 'camera 0', ... for one-line errors
    codec: str  # how frames are decoded: 'nvv4l2decoder (GStreamer)', 'OpenCV/FFmpeg (...)'; the header and --stats show it
    notes: List[str]  # what to tell the user once at start (a camera that gave another mode)

    def open(self) -> "Source": ...

    def read(self) -> Read: ...

    def reopen(self) -> None: ...

    def rewind(self) -> bool: ...  # back to the first frame; False for a live source

    def close(self) -> None: ...
