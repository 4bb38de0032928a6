"""The sources behind the source table: everything cv2.VideoCapture opens, and folders of images.

Why apart from edgeunet.stream.sources: that module is the grammar and the table (which kind opens how);
these are the objects the pipeline reads from, through the `Source` protocol of edgeunet.stream.source_base.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import cv2
import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.codecs import OPENCV, CodecChoice, quiet_opencv
from edgeunet.stream.source_base import CORRUPT, END, LOST, OK, Read, SourceSpec

MAX_CONSECUTIVE_CORRUPT = 30  # a live source that only yields garbage is treated as lost


def _backend_name(cap: Any) -> str:
    try:
        return str(cap.getBackendName())
    except cv2.error:
        return "VideoCapture"


class HardwareOpener:
    """Opens a file or RTSP stream through the GStreamer (NVDEC) pipeline when chosen; if that pipeline does not start,
    through `software` (OpenCV/FFmpeg) instead, with the reason kept in `choice` (the header and --stats show it)."""

    def __init__(self, choice: CodecChoice, software: Callable[[], Any]) -> None:
        self.choice = choice
        self._software = software

    def __call__(self) -> Any:
        if self.choice.pipeline:
            with quiet_opencv():
                cap = cv2.VideoCapture(self.choice.pipeline, cv2.CAP_GSTREAMER)
            if cap.isOpened():
                return cap
            cap.release()
            self.choice = CodecChoice(OPENCV, None, f"the {self.choice.element} pipeline did not start")
        return self._software()


class VideoCaptureSource:
    """Everything cv2.VideoCapture opens: files, cameras, V4L2, CSI/GStreamer, RTSP/HTTP."""

    def __init__(self, spec: SourceSpec, opener: Callable[[], Any], describe: str, hint: str, fps: Optional[float] = None) -> None:
        self.spec = spec
        self.live = spec.live
        self.description = describe
        self._opener = opener
        self._hint = hint
        self._requested_fps = fps
        self._cap: Any = None
        self._bad_run = 0
        self.fps: Optional[float] = None
        self.size: Optional[Tuple[int, int]] = None
        self.notes: List[str] = []
        self.codec = OPENCV

    def open(self) -> "VideoCaptureSource":
        cap = self._opener()
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise EdgeUnetError(f"source {self.spec.text}: cannot be opened ({self.description}); {self._hint}")
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else self._requested_fps
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self.size = (width, height) if width and height else None
        choice = getattr(self._opener, "choice", None)
        self.codec = choice.describe() if isinstance(choice, CodecChoice) else f"OpenCV {_backend_name(cap)}"
        self._note_camera_mode()
        return self

    def _note_camera_mode(self) -> None:
        """A camera may not grant the mode asked for; say what it gave instead of failing later."""
        opts = self.spec.options
        if self.spec.kind not in ("camera", "v4l2") or self.size is None:
            return
        want = (opts.get("width", self.size[0]), opts.get("height", self.size[1]))
        if want != self.size:
            self.notes.append(f"{self.spec.text}: asked for {want[0]}x{want[1]}, the camera gives {self.size[0]}x{self.size[1]}")

    def read(self) -> Read:
        ok = self._cap.grab()
        arrived = time.perf_counter()
        if not ok:
            return (LOST if self.live else END), None, arrived
        ok, frame = self._cap.retrieve()
        if not ok or frame is None or frame.size == 0 or frame.dtype != np.uint8:
            self._bad_run += 1
            return (LOST if self.live and self._bad_run >= MAX_CONSECUTIVE_CORRUPT else CORRUPT), None, arrived
        self._bad_run = 0
        return OK, frame, arrived

    def reopen(self) -> None:
        self.close()
        self.open()

    def rewind(self) -> bool:
        if self.live:
            return False
        self.reopen()
        return True

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderSource:
    """A folder or glob of images, in name order; an unreadable image is a corrupt frame, not the end."""

    live = False

    def __init__(self, spec: SourceSpec, files: List[Path], fps: Optional[float] = None) -> None:
        self.spec = spec
        self.files = files
        self.fps = fps
        self.description = f"{len(files)} images"
        self.codec = "OpenCV imread"
        self.notes: List[str] = []
        self._next = 0
        first = cv2.imread(str(files[0]), cv2.IMREAD_ANYCOLOR) if files else None
        self.size: Optional[Tuple[int, int]] = (first.shape[1], first.shape[0]) if first is not None else None

    def open(self) -> "ImageFolderSource":
        self._next = 0
        return self

    def read(self) -> Read:
        if self._next >= len(self.files):
            return END, None, time.perf_counter()
        path = self.files[self._next]
        self._next += 1
        arrived = time.perf_counter()
        frame = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR)
        if frame is None or frame.size == 0:
            return CORRUPT, None, arrived
        return OK, frame, arrived

    def reopen(self) -> None:
        self.open()

    def rewind(self) -> bool:
        self._next = 0
        return True

    def close(self) -> None:
        pass
