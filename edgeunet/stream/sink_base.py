"""What every sink is: `SinkSpec` (a parsed --output), `Sink` (open / write / close), `StreamInfo` (what it may show).

Why a module of its own: sinks that live in their own module (web.py, rtsp.py, a newcomer's) import these
types from here, and `sinks.py` (the sink table) imports those modules when their kind is asked for. With the
base types in `sinks.py` that was an import circle hidden inside a function. This module imports no other
stream module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import numpy as np


@dataclass
class SinkSpec:
    """A parsed sink URI. kind: a name in the sink table (edgeunet.stream.sinks.SINKS); location: a path or rtsp's mount path."""

    kind: str
    location: str = ""
    host: str = ""
    port: int = 0
    text: str = ""


@dataclass
class StreamInfo:
    """What a sink may show about the run: never a raw source URI (`source` is redacted), never a token."""

    model: str
    source: str
    class_names: List[str]
    colors: List[List[int]]  # BGR, as ModelSpec stores them
    live_stats: Callable[[], Dict[str, Any]]  # JSON-ready, cheap enough to call once a second
    recorder: Any = None  # the run's LatencyRecorder (the sparkline reads its recent samples)


class Sink:
    """open() checks, write() takes one BGR frame, close() finalises; `stop_requested` asks the run to end (display 'q')."""

    kind = "null"

    def __init__(self, spec: SinkSpec) -> None:
        self.spec = spec
        self.name = spec.text or spec.kind
        self.frames = 0
        self.stop_requested = False
        self.where = ""  # what to tell the user: a file, a folder, a URL
        self.codec = ""  # how frames are encoded, when the sink encodes (the run's header and --stats name it)

    def open(self) -> "Sink":
        return self

    def write(self, frame: np.ndarray, index: int) -> None:
        self.frames += 1

    def write_result(self, view: np.ndarray, index: int, frame: np.ndarray, mask: np.ndarray) -> None:
        """What the pipeline calls: most sinks want only the drawn view; the web view also keeps frame + mask for snapshots."""
        self.write(view, index)

    def attach(self, info: "StreamInfo") -> None:
        """Told once the stream is set up: what it runs (model, classes, redacted source) and where its live stats are."""

    def close(self) -> None:
        pass
