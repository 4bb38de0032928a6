"""Frame sources behind one URI grammar (after jetson-inference's videoSource): a camera and a file are the same argument.

    video.mp4 | frames/ | 'frames/*.png' | 0 | camera://0 | v4l2:///dev/video0?width=1280&height=720&fps=30
    csi://0 | rtsp://host/path | http://host:8090/stream.mjpg | gst:videotestsrc ! videoconvert ! appsink

`parse_source` is pure (text in, `SourceSpec` out, no file system), so the grammar is unit-tested on
its own; `open_source` turns a spec into an opened source or one line saying why it cannot be opened.
A source's `read()` says what happened (ok / end / corrupt / lost) so the pipeline can skip corrupt
frames and reconnect a live source without knowing which kind it is. OpenCV only, no torch.
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

import cv2
import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.images import IMAGE_SUFFIXES
from edgeunet.stream.redact import redact_uri

OK, END, CORRUPT, LOST = "ok", "end", "corrupt", "lost"
LIVE_KINDS = ("camera", "v4l2", "csi", "rtsp", "http", "gst")
NETWORK_SCHEMES = {"rtsp": "rtsp", "rtsps": "rtsp", "rtmp": "rtsp", "http": "http", "https": "http"}
# The dataset formats, plus what frame grabbers and other tools dump.
FRAME_SUFFIXES = (*IMAGE_SUFFIXES, ".webp", ".pgm", ".ppm")
GRAMMAR = ("a video file, an image folder or glob, 0 / camera://0, v4l2:///dev/video0, csi://0, rtsp://..., http://..., "
           "or gst:PIPELINE")
OPEN_TIMEOUT_MS = 5000  # network sources: a dead host fails in seconds, not minutes
READ_TIMEOUT_MS = 5000
MAX_CONSECUTIVE_CORRUPT = 30  # a live source that only yields garbage is treated as lost
CAMERA_DEFAULTS = {"width": 1280, "height": 720, "fps": 30}
INT_OPTIONS = ("width", "height", "fps", "flip")

Read = Tuple[str, Optional[np.ndarray], float]  # status, frame (BGR or gray uint8), arrival time (perf_counter)


@dataclass
class SourceSpec:
    """A parsed source URI. kind: path | images | camera | v4l2 | csi | rtsp | http | gst."""

    kind: str
    location: str  # what is opened (a network URL keeps its credentials here, and only here)
    options: Dict[str, Any] = field(default_factory=dict)
    text: str = ""  # what is shown: the user's text with any password or token replaced by *** (redact_uri)

    @property
    def live(self) -> bool:
        return self.kind in LIVE_KINDS


def _options(query: str, text: str) -> Dict[str, Any]:
    options: Dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        key = key.lower()
        if key in INT_OPTIONS:
            if not value.isdigit():
                raise EdgeUnetError(f"source {text}: {key}={value!r} is not a whole number")
            options[key] = int(value)
        elif key in ("format", "fourcc"):
            if len(value) != 4:
                raise EdgeUnetError(f"source {text}: format={value!r} must be a 4-letter FOURCC such as MJPG or YUYV")
            options["format"] = value.upper()
        else:
            raise EdgeUnetError(f"source {text}: unknown option {key!r}; use width, height, fps, format (v4l2) or flip (csi)")
    return options


def parse_source(text: str) -> SourceSpec:
    """Source text -> SourceSpec, by the grammar in the module docstring; an unknown scheme is a one-line error."""
    raw = str(text).strip()
    if not raw:
        raise EdgeUnetError(f"empty source: give {GRAMMAR}")
    return _parse(raw, redact_uri(raw))


def _parse(raw: str, shown: str) -> SourceSpec:
    """parse_source's grammar; `shown` (credentials masked) is what every message and SourceSpec.text carry."""
    if raw.isdigit():
        return SourceSpec("camera", raw, {}, raw)
    if raw.lower().startswith("gst:"):
        pipeline = raw[6:].strip() if raw[4:6] == "//" else raw[4:].strip()
        if not pipeline:
            raise EdgeUnetError("source gst: needs a pipeline, e.g. gst:videotestsrc ! videoconvert ! appsink")
        return SourceSpec("gst", pipeline, {}, raw)
    scheme, sep, rest = raw.partition("://")
    if not sep:
        if raw.startswith("/dev/video"):
            return SourceSpec("v4l2", raw, {}, raw)
        return SourceSpec("images" if any(c in raw for c in "*?[") else "path", raw, {}, raw)
    scheme = scheme.lower()
    body, _, query = rest.partition("?")
    if scheme == "camera":
        if not body.isdigit():
            raise EdgeUnetError(f"source {raw}: camera://N needs a camera number, e.g. camera://0")
        return SourceSpec("camera", body, _options(query, shown), raw)
    if scheme == "v4l2":
        device = body if body.startswith("/") else f"/dev/{body}" if body else ""
        if not device:
            raise EdgeUnetError(f"source {raw}: name the device, e.g. v4l2:///dev/video0")
        return SourceSpec("v4l2", device, _options(query, shown), raw)
    if scheme == "csi":
        if not body.isdigit():
            raise EdgeUnetError(f"source {raw}: csi://N needs a sensor number, e.g. csi://0")
        return SourceSpec("csi", body, _options(query, shown), raw)
    if scheme in NETWORK_SCHEMES:
        return SourceSpec(NETWORK_SCHEMES[scheme], raw, {}, shown)
    if scheme == "file":
        return SourceSpec("images" if any(c in body for c in "*?[") else "path", body, {}, raw)
    raise EdgeUnetError(f"source {shown}: unknown scheme {scheme}://; give {GRAMMAR}")


# -- what this OpenCV can do --------------------------------------------------------------------
def opencv_has(feature: str) -> bool:
    """Whether cv2's build information lists `feature` (e.g. 'GStreamer') as YES."""
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name.strip().lower() == feature.lower():
            return value.strip().upper().startswith("YES")
    return False


def require_gstreamer(what: str) -> None:
    if not opencv_has("GStreamer"):
        raise EdgeUnetError(
            f"{what} needs OpenCV built with GStreamer, and this OpenCV {cv2.__version__} has none (pip's opencv-python wheels "
            "never do); on a Jetson use JetPack's OpenCV (apt install python3-opencv; make the venv with --system-site-packages)"
        )


def csi_pipeline(sensor: int, width: int, height: int, fps: int, flip: int = 0) -> str:
    """nvarguscamerasrc -> BGR appsink that keeps only the newest buffer (no latency build-up)."""
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={fps}/1, format=NV12 ! nvvidconv flip-method={flip} ! video/x-raw, format=BGRx ! "
        "videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def gst_pipeline(text: str) -> str:
    """A user pipeline, ended by a BGR appsink when it does not name one."""
    if "appsink" in text:
        return text
    return f"{text} ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1 sync=false"


# -- sources ------------------------------------------------------------------------------------
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


# -- opening -------------------------------------------------------------------------------------
def _capture(target: Any, api: int = cv2.CAP_ANY, params: Optional[List[int]] = None) -> Any:
    return cv2.VideoCapture(target, api, params) if params else cv2.VideoCapture(target, api)


def _open_camera(target: Any, api: int, options: Dict[str, Any], fourcc: Optional[str]) -> Any:
    """Open, then request the mode (FOURCC first: many UVC cameras give 30 FPS at 720p only in MJPG).

    Set after opening rather than as open-time parameters: a backend that does not consume an
    open-time parameter refuses to open at all.
    """
    cap = cv2.VideoCapture(target, api)
    if not cap.isOpened():
        return cap
    if fourcc:
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*fourcc))
    for key, prop in (("width", cv2.CAP_PROP_FRAME_WIDTH), ("height", cv2.CAP_PROP_FRAME_HEIGHT), ("fps", cv2.CAP_PROP_FPS)):
        if key in options:
            cap.set(prop, int(options[key]))
    return cap


def _image_files(spec: SourceSpec) -> List[Path]:
    if spec.kind == "images":
        return sorted(Path(p) for p in glob.glob(os.path.expanduser(spec.location)) if Path(p).suffix.lower() in FRAME_SUFFIXES)
    folder = Path(spec.location).expanduser()
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES)


def _open_path(spec: SourceSpec, fps: Optional[float]) -> Any:
    path = Path(spec.location).expanduser()
    if spec.kind == "path" and not path.exists():
        raise EdgeUnetError(f"source {spec.text}: no such file or folder; give {GRAMMAR}")
    if spec.kind == "images" or path.is_dir() or path.suffix.lower() in FRAME_SUFFIXES:
        files = _image_files(spec)
        if not files:
            raise EdgeUnetError(f"source {spec.text}: no images ({', '.join(FRAME_SUFFIXES)}) found there")
        return ImageFolderSource(spec, files, fps).open()
    return VideoCaptureSource(
        spec, lambda: _capture(str(path)), "a video file",
        "OpenCV/FFmpeg cannot decode it: check the file, or convert it with `ffmpeg -i IN -c:v libx264 out.mp4`", fps,
    ).open()


def _network_opener(url: str) -> Callable[[], Any]:
    if url.lower().startswith(("rtsp", "rtmp")):
        # TCP: no smeared frames from lost UDP packets; the user's own setting wins.
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    return lambda: _capture(url, cv2.CAP_FFMPEG, params)


def open_source(spec: SourceSpec | str, fps: Optional[float] = None) -> Any:
    """An opened source for `spec`, or an EdgeUnetError that says what, where and what to do."""
    if isinstance(spec, str):
        spec = parse_source(spec)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own lines would break our one-line errors
    kind, opts = spec.kind, spec.options
    if kind in ("path", "images"):
        return _open_path(spec, fps)
    if kind == "camera":
        return VideoCaptureSource(spec, lambda: _open_camera(int(spec.location), cv2.CAP_ANY, opts, opts.get("format")),
                                  f"camera {spec.location}", "is a camera plugged in and free? list them with `v4l2-ctl --list-devices`",
                                  fps or opts.get("fps")).open()
    if kind == "v4l2":
        if not Path(spec.location).exists():
            raise EdgeUnetError(f"source {spec.text}: no such device {spec.location}; list cameras with `v4l2-ctl --list-devices`")
        wanted = {**CAMERA_DEFAULTS, **opts}
        return VideoCaptureSource(spec, lambda: _open_camera(spec.location, cv2.CAP_V4L2, wanted, wanted.get("format", "MJPG")),
                                  f"V4L2 device {spec.location}", "is it a capture device, and not in use by another program?",
                                  fps or wanted["fps"]).open()
    if kind == "csi":
        require_gstreamer(f"source {spec.text}")
        wanted = {**CAMERA_DEFAULTS, **opts}
        pipeline = csi_pipeline(int(spec.location), wanted["width"], wanted["height"], wanted["fps"], wanted.get("flip", 0))
        return VideoCaptureSource(spec, lambda: _capture(pipeline, cv2.CAP_GSTREAMER), f"CSI sensor {spec.location}",
                                  "is the ribbon seated and nvargus-daemon running? (sudo systemctl restart nvargus-daemon)",
                                  fps or wanted["fps"]).open()
    if kind == "gst":
        require_gstreamer(f"source gst:{spec.location}")
        pipeline = gst_pipeline(spec.location)
        return VideoCaptureSource(spec, lambda: _capture(pipeline, cv2.CAP_GSTREAMER), "GStreamer pipeline",
                                  "check it with gst-launch-1.0 first", fps).open()
    if kind in ("rtsp", "http"):
        return VideoCaptureSource(spec, _network_opener(spec.location), f"{kind.upper()} stream",
                                  f"is the server up and the address right? (no answer within {OPEN_TIMEOUT_MS // 1000} s)", fps).open()
    raise EdgeUnetError(f"source {spec.text}: unsupported kind {kind}")
