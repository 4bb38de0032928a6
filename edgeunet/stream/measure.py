"""bench's end-to-end measurement: an open backend over a video through the whole stream pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

from edgeunet.runtime.base import Backend
from edgeunet.stream.options import StreamOptions
from edgeunet.stream.stream import Stream


def measure_pipeline(backend: Backend, video: Union[str, Path], max_frames: Optional[int] = None, overlay: str = "alpha",
                     outputs: Sequence[str] = ("null",), upsample: str = "fast") -> Dict[str, Any]:
    """End-to-end run of an already-open backend over `video` (read -> ... -> overlay -> outputs); `bench` reads ["fps"]."""
    stream = Stream(backend, str(video), outputs, StreamOptions(overlay=overlay, hud=False, max_frames=max_frames, upsample=upsample))
    try:
        return stream.run()
    finally:
        stream.close()
