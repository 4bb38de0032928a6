"""Video file outputs (.mp4 .mkv .mov .m4v .avi): always a whole file, encoded by NVENC where the machine has it.

Why apart from edgeunet.stream.sinks (the sink table): the encoder choice (edgeunet.stream.codecs) and the
write-then-rename rule are this sink's own business; the table only names it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from edgeunet.core.atomic import ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import to_bgr
from edgeunet.stream.codecs import OPENCV, CodecChoice, encode_pipeline, machine_encoder
from edgeunet.stream.sink_base import Sink, SinkSpec

VIDEO_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}  # OpenCV's own writer


class VideoFileSink(Sink):
    """A video written under a temporary name beside the target and renamed on close: the target is always a whole file.

    .mp4/.mkv/.mov go through NVENC (`nvv4l2h264enc`, GStreamer) where this machine has it, else OpenCV's writer
    (mp4v; MJPG for .avi); `codec` names the one used (edgeunet.stream.codecs decides).
    """

    kind = "video"

    def __init__(self, spec: SinkSpec, fps: float) -> None:
        super().__init__(spec)
        self.path = Path(spec.location).expanduser()
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.fourcc = VIDEO_FOURCC[self.path.suffix.lower()]
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.partial{self.path.suffix}")
        self.size: Optional[Tuple[int, int]] = None
        self._writer: Any = None
        self.choice = CodecChoice(OPENCV)
        self.codec = f"OpenCV {self.fourcc}"
        self.where = str(self.path)

    def open(self) -> "VideoFileSink":
        if self.path.is_dir():
            raise EdgeUnetError(f"output {self.name}: is a folder; give a file name such as out.mp4 (or end it with / for frames)")
        ensure_writable_dir(self.path.parent if str(self.path.parent) else Path("."), "output folder")
        self.choice = machine_encoder(str(self.tmp), self.fps)
        try:
            probe = self._new_writer(self.tmp, (64, 64))  # codec check now, not at the first frame
        except EdgeUnetError:
            if not self.choice.pipeline:
                raise
            self.choice = CodecChoice(OPENCV, None, f"the {self.choice.element} pipeline did not start")
            probe = self._new_writer(self.tmp, (64, 64))
        probe.release()
        with contextlib.suppress(OSError):
            self.tmp.unlink()
        self.codec = self.choice.describe(f"OpenCV {self.fourcc}")
        return self

    def _new_writer(self, path: Path, size: Tuple[int, int]) -> Any:
        if self.choice.pipeline:
            pipeline = encode_pipeline(str(path), self.choice.element, self.fps)
            writer = cv2.VideoWriter(pipeline, cv2.CAP_GSTREAMER, 0, self.fps, size, True)
        else:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, size)
        if not writer.isOpened():
            with contextlib.suppress(OSError):
                path.unlink()
            what = self.choice.element if self.choice.pipeline else self.fourcc
            raise EdgeUnetError(f"output {self.name}: this OpenCV cannot write {what} into {self.path.suffix}; try out.avi (MJPG)")
        return writer

    def write(self, frame: np.ndarray, index: int) -> None:
        frame = to_bgr(frame)
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self.size = size
            self._writer = self._new_writer(self.tmp, size)
        elif size != self.size:  # a camera that reconnected at another size: keep one valid stream
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        try:
            if self.frames:
                verify_video(self.tmp, self.frames, self.path)  # a full disk does not make VideoWriter raise
                os.replace(self.tmp, self.path)
        finally:
            with contextlib.suppress(OSError):
                self.tmp.unlink()


def verify_video(path: Path, frames: int, shown: Path) -> None:
    """Raise OSError unless the video file at `path` holds `frames` frames: never claim a video that is not there."""
    capture = cv2.VideoCapture(str(path))
    held = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    if held < frames:
        free = shutil.disk_usage(path.parent).free if path.parent.exists() else 0
        why = "the disk is full" if free < (1 << 20) else "the writer lost frames"
        raise OSError(errno.ENOSPC if free < (1 << 20) else errno.EIO, f"the video holds {held} of {frames} frames ({why})", str(shown))
