"""Frame sinks behind one URI grammar (after jetson-inference's videoOutput); several can run at once.

    out.mp4 | out.avi | frames/ | display:// | web://HOST:PORT | mjpeg://HOST:PORT | rtsp://HOST:PORT/PATH | null

web:// (the live page, edgeunet.stream.web) and mjpeg:// (the bare MJPEG stream) are one aiohttp server;
rtsp:// (edgeunet.stream.rtsp) is GStreamer's RTSP server. As an --output, rtsp:// means "serve"; as the
SOURCE argument it means "read from a camera" (edgeunet.stream.sources).

`parse_sink` is pure; `open_sinks` checks everything that can be checked before the first frame
(writable folder, codec, free port, a screen), so a mistake is one line at start, not a surprise
at frame 900. Files are never half-written: a video is encoded under a temporary name next to its
target and renamed on close; each image is written whole, then renamed. OpenCV only, no torch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from edgeunet.core.atomic import ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import to_bgr

VIDEO_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
DEFAULT_MJPEG = ("127.0.0.1", 8090)
DEFAULT_WEB = ("127.0.0.1", 8080)
DEFAULT_RTSP = ("127.0.0.1", 8554)
NETWORK_SCHEMES = ("web", "mjpeg", "rtsp")  # outputs that listen, and so follow the token rule of edgeunet.stream.access
GRAMMAR = ("a video file (.mp4 .avi .mkv .mov), a folder for frames (frames/), display://, web://HOST:PORT, mjpeg://HOST:PORT, "
           "rtsp://HOST:PORT/PATH or null")
HEADLESS_HINT = ("watch from a browser with --output web://127.0.0.1:8080 (another machine: web://0.0.0.0:8080 with a --token; "
                 "a bare stream: mjpeg://HOST:PORT), or write a file (--output out.mp4)")


@dataclass
class SinkSpec:
    """A parsed sink URI. kind: video | images | display | web | mjpeg | rtsp | null (location: rtsp's mount path)."""

    kind: str
    location: str = ""
    host: str = ""
    port: int = 0
    text: str = ""


def _address(text: str, rest: str, default: Tuple[str, int]) -> Tuple[str, int]:
    rest = rest.strip().rstrip("/")
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port_text = ("", rest) if rest.isdigit() else (rest, "")
    host = host.strip("[]") or default[0]
    if port_text == "":
        return host, default[1]
    if not port_text.isdigit() or int(port_text) > 65535:
        raise EdgeUnetError(f"output {text}: port {port_text!r} is not a number from 0 to 65535")
    return host, int(port_text)


def parse_sink(text: str) -> SinkSpec:
    """Output text -> SinkSpec; an unknown scheme or file type is a one-line error."""
    raw = str(text).strip()
    lower = raw.lower()
    if not raw:
        raise EdgeUnetError(f"empty output: give {GRAMMAR}")
    if lower in ("null", "null://", "none"):
        return SinkSpec("null", text=raw)
    if lower in ("display", "display://") or lower.startswith("display://"):
        return SinkSpec("display", location=raw[len("display://"):] or "0", text=raw)
    scheme, sep, rest = raw.partition("://")
    if sep:
        if scheme.lower() in ("mjpeg", "web"):
            kind = scheme.lower()
            host, port = _address(raw, rest, DEFAULT_MJPEG if kind == "mjpeg" else DEFAULT_WEB)
            return SinkSpec(kind, host=host, port=port, text=raw)
        if scheme.lower() == "rtsp":
            return _parse_rtsp(raw, rest)
        if scheme.lower() != "file":
            raise EdgeUnetError(f"output {raw}: unknown scheme {scheme}://; give {GRAMMAR}")
        raw = rest
    suffix = Path(raw).suffix.lower()
    if raw.endswith(("/", os.sep)) or not suffix:
        return SinkSpec("images", location=raw, text=str(text).strip())
    if suffix in VIDEO_FOURCC:
        return SinkSpec("video", location=raw, text=str(text).strip())
    raise EdgeUnetError(f"output {text}: unknown file type {suffix}; give {GRAMMAR}")


def _parse_rtsp(raw: str, rest: str) -> SinkSpec:
    """rtsp://HOST:PORT/PATH to serve; the path defaults to /edgeunet. A password belongs in --token, never in the URL."""
    authority, _, path = rest.partition("/")
    if "@" in authority:
        raise EdgeUnetError(f"output rtsp://***@{authority.rpartition('@')[2]}/{path}: put no user or password in an rtsp:// "
                            "output; give the password with --token (the user is edgeunet)")
    host, port = _address(raw, authority, DEFAULT_RTSP)
    path = "/" + path.strip("/") if path.strip("/") else "/edgeunet"
    return SinkSpec("rtsp", location=path, host=host, port=port, text=raw)


@dataclass
class StreamInfo:
    """What a sink may show about the run: never a raw source URI (`source` is redacted), never a token."""

    model: str
    source: str
    class_names: List[str]
    colors: List[List[int]]  # BGR, as ModelSpec stores them
    live_stats: Callable[[], Dict[str, Any]]  # JSON-ready, cheap enough to call once a second
    recorder: Any = None  # the run's LatencyRecorder (the sparkline reads its recent samples)


# -- sinks ---------------------------------------------------------------------------------------
class Sink:
    """open() checks, write() takes one BGR frame, close() finalises; `stop_requested` asks the run to end (display 'q')."""

    kind = "null"

    def __init__(self, spec: SinkSpec) -> None:
        self.spec = spec
        self.name = spec.text or spec.kind
        self.frames = 0
        self.stop_requested = False
        self.where = ""  # what to tell the user: a file, a folder, a URL

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


class NullSink(Sink):
    """Frames go nowhere: for timing the pipeline without an output's cost."""


class VideoFileSink(Sink):
    """A video written under a temporary name beside the target and renamed on close: the target is always a whole file."""

    kind = "video"

    def __init__(self, spec: SinkSpec, fps: float) -> None:
        super().__init__(spec)
        self.path = Path(spec.location).expanduser()
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.fourcc = VIDEO_FOURCC[self.path.suffix.lower()]
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.partial{self.path.suffix}")
        self.size: Optional[Tuple[int, int]] = None
        self._writer: Any = None
        self.where = str(self.path)

    def open(self) -> "VideoFileSink":
        if self.path.is_dir():
            raise EdgeUnetError(f"output {self.name}: is a folder; give a file name such as out.mp4 (or end it with / for frames)")
        ensure_writable_dir(self.path.parent if str(self.path.parent) else Path("."), "output folder")
        probe = self._new_writer(self.tmp, (64, 64))  # codec check now, not at the first frame
        probe.release()
        with contextlib.suppress(OSError):
            self.tmp.unlink()
        return self

    def _new_writer(self, path: Path, size: Tuple[int, int]) -> Any:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, size)
        if not writer.isOpened():
            with contextlib.suppress(OSError):
                path.unlink()
            raise EdgeUnetError(f"output {self.name}: this OpenCV cannot write {self.fourcc} into {self.path.suffix}; try out.avi (MJPG)")
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


class ImageFolderSink(Sink):
    """One JPEG per frame, named by frame number, each written whole then renamed."""

    kind = "images"

    def __init__(self, spec: SinkSpec, suffix: str = ".jpg") -> None:
        super().__init__(spec)
        self.folder = Path(spec.location).expanduser()
        self.suffix = suffix
        self.where = str(self.folder)

    def open(self) -> "ImageFolderSink":
        if self.folder.exists() and not self.folder.is_dir():
            raise EdgeUnetError(f"output {self.name}: exists and is not a folder; give a new folder for the frames")
        self._created = not self.folder.exists()
        ensure_writable_dir(self.folder, "output folder")
        return self

    def close(self) -> None:
        if getattr(self, "_created", False) and not self.frames:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # nothing was written (a full disk at the first frame): no empty folder left

    def write(self, frame: np.ndarray, index: int) -> None:
        ok, encoded = cv2.imencode(self.suffix, frame)
        if not ok:
            raise OSError(f"cannot encode frame {index} as {self.suffix}")
        target = self.folder / f"{index:06d}{self.suffix}"
        # Not atomic.atomic_write_bytes: its folder check and mkstemp would run for every frame; open() checked the folder once.
        tmp = self.folder / f".{target.name}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(encoded.tobytes())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a full disk must not leave a half frame behind
            raise
        self.frames += 1


def display_problem() -> Optional[str]:
    """Why a window cannot be shown here (headless machine, OpenCV without GUI), or None."""
    gui = ""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            gui = line.split(":", 1)[1].strip()
    if gui.upper() == "NONE":
        return f"this OpenCV has no GUI (opencv-python-headless); pip install opencv-python, or {HEADLESS_HINT}"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return f"no screen here (DISPLAY and WAYLAND_DISPLAY are not set); {HEADLESS_HINT}"
    return None


class DisplaySink(Sink):
    """An OpenCV window; 'q' or Esc in it (or closing it) ends the run."""

    kind = "display"

    def __init__(self, spec: SinkSpec, title: str = "edgeunet stream") -> None:
        super().__init__(spec)
        self.title = title
        self._shown = False
        self.where = "a window"

    def open(self) -> "DisplaySink":
        problem = display_problem()
        if problem:
            raise EdgeUnetError(f"output {self.name}: {problem}")
        return self

    def write(self, frame: np.ndarray, index: int) -> None:
        if not self._shown:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            self._shown = True
        cv2.imshow(self.title, frame)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.stop_requested = True
        self.frames += 1

    def close(self) -> None:
        if self._shown:
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)


# -- opening -------------------------------------------------------------------------------------
def make_sink(spec: SinkSpec | str, fps: Optional[float] = None, web: Any = None) -> Sink:
    """A sink for `spec`; `web` (edgeunet.stream.web.WebOptions) sets token, viewer limit (and snapshot folder) for web://, mjpeg://, rtsp://."""
    if isinstance(spec, str):
        spec = parse_sink(spec)
    if spec.kind == "video":
        return VideoFileSink(spec, fps or 30.0)
    if spec.kind == "images":
        return ImageFolderSink(spec)
    if spec.kind == "display":
        return DisplaySink(spec)
    if spec.kind in ("web", "mjpeg"):
        from edgeunet.stream.web import WebSink  # its module imports Sink from here

        return WebSink(spec, web)
    if spec.kind == "rtsp":
        from edgeunet.stream.rtsp import RtspSink  # gi/GStreamer are imported when it opens, never before

        return RtspSink(spec, fps or 30.0, web)
    return NullSink(spec)


def open_sinks(outputs: Sequence[Union[str, Sink]], fps: Optional[float] = None, web: Any = None) -> List[Sink]:
    """Open every sink or none: on the first failure the ones already open are closed, then the error is raised.

    An output is a URI, or a `Sink` object of the caller's own (open() is called on it like on ours).
    """
    items = [o if isinstance(o, Sink) else parse_sink(o) for o in outputs]
    paths = [str(Path(s.location).expanduser().resolve()) for s in items if isinstance(s, SinkSpec) and s.kind in ("video", "images")]
    if len(paths) != len(set(paths)):
        raise EdgeUnetError("the same output file or folder is given twice; give each --output once")
    opened: List[Sink] = []
    try:
        for item in items:
            opened.append(item.open() if isinstance(item, Sink) else make_sink(item, fps, web).open())
    except BaseException:
        for sink in opened:
            with contextlib.suppress(Exception):
                sink.close()
        raise
    return opened
