"""mjpeg://HOST:PORT: the bare MJPEG stream (VLC, OpenCV, a browser), served by the web view's aiohttp server.

Kept as a name of its own for code that opens `MjpegServerSink` directly; it is the web sink with
kind 'mjpeg', so it has the same routes, token rule and viewer limit.
"""

from __future__ import annotations

from typing import Optional

from edgeunet.stream.sink_base import SinkSpec
from edgeunet.stream.web import BOUNDARY, WebOptions, WebSink

__all__ = ["BOUNDARY", "MjpegServerSink"]


class MjpegServerSink(WebSink):
    """An HTTP multipart-MJPEG server: open http://HOST:PORT/ (or /stream.mjpg) from another program or machine."""

    kind = "mjpeg"

    def __init__(self, spec: SinkSpec, quality: int = 80, options: Optional[WebOptions] = None) -> None:
        opts = options or WebOptions()
        opts.quality = int(quality)
        super().__init__(spec, opts)
