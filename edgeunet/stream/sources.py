"""Frame sources behind one URI grammar (after jetson-inference's videoSource): a camera and a file are the same argument.

    video.mp4 | frames/ | 'frames/*.png' | 0 | camera://0 | v4l2:///dev/video0?width=1280&height=720&fps=30
    csi://0 | rtsp://host/path | http://host:8090/stream.mjpg | gst:videotestsrc ! videoconvert ! appsink

The source table (`SOURCES`, one `SourceKind` row per kind, registered next to its opener) is the grammar:
`parse_source` is pure (text in, `SourceSpec` out, no file system), so it is unit-tested on its own;
`open_source` opens through the row's `open`, or says in one line why it cannot. Every source keeps the
`Source` protocol (edgeunet.stream.source_base): `read()` says what happened (ok / end / corrupt / lost) so the
pipeline skips corrupt frames and reconnects a live source without knowing its kind. Video files and RTSP
cameras decode through NVDEC when the machine has it (edgeunet.stream.codecs). OpenCV only, no torch.
"""

from __future__ import annotations

import difflib
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

import cv2

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.images import IMAGE_SUFFIXES
from edgeunet.stream.capture import HardwareOpener, ImageFolderSource, VideoCaptureSource
from edgeunet.stream.codecs import machine_decoder, opencv_has
from edgeunet.stream.redact import redact_uri
from edgeunet.stream.registry import add_row
from edgeunet.stream.source_base import CORRUPT, END, LOST, OK, Read, Source, SourceSpec

__all__ = ["CORRUPT", "END", "LOST", "OK", "SOURCES", "Read", "Source", "SourceKind", "SourceSpec", "open_source", "opencv_has",
           "parse_source", "register_source"]

# The dataset formats, plus what frame grabbers and other tools dump.
FRAME_SUFFIXES = (*IMAGE_SUFFIXES, ".webp", ".pgm", ".ppm")
OPEN_TIMEOUT_MS = 5000  # network sources: a dead host fails in seconds, not minutes
READ_TIMEOUT_MS = 5000
CAMERA_DEFAULTS = {"width": 1280, "height": 720, "fps": 30}
INT_OPTIONS = ("width", "height", "fps", "flip")
Parse = Callable[[str, str, str, str], SourceSpec]  # (text, kind, body after scheme://, query) -> SourceSpec
Open = Callable[[SourceSpec, Optional[float]], Source]  # (spec, --fps) -> an opened source


# -- the source table ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceKind:
    """One row of the source table: how a SOURCE names it, how it is opened, and what this machine lacks for it.

    `schemes` select it as `scheme://...`; `parse` reads the rest (default: the whole text is the location);
    `open` returns an opened `Source` (edgeunet.stream.source_base) or raises one line; `problem` says why it
    cannot run here (the doctor asks).
    """

    name: str
    usage: str  # how a user writes it, as --help and every error list it
    open: Open
    schemes: Tuple[str, ...] = ()
    parse: Optional[Parse] = None
    live: bool = False
    problem: Optional[Callable[[], Optional[str]]] = None


SOURCES: Dict[str, SourceKind] = {}


def register_source(kind: SourceKind) -> SourceKind:
    """Add a row; a name or scheme given twice is a programming error, caught at import."""
    return add_row(SOURCES, kind.name, kind, lambda row: row.schemes, "source")


def grammar() -> str:
    """Every way to write a source, from the table: what --help and the one-line errors list."""
    return ", ".join(k.usage for k in SOURCES.values())


def _spec(kind: str, location: str, options: Dict[str, Any], text: str) -> SourceSpec:
    return SourceSpec(kind, location, options, text, SOURCES[kind].live)


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
        raise EdgeUnetError(f"empty source: give {grammar()}")
    return _parse(raw, redact_uri(raw))


def _parse(raw: str, shown: str) -> SourceSpec:
    """parse_source's grammar; `shown` (credentials masked) is what every message and SourceSpec.text carry."""
    if raw.isdigit():
        return _spec("camera", raw, {}, raw)
    if raw.lower().startswith("gst:"):
        return _parse_gst(raw, "gst", raw[4:], "")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        if raw.startswith("/dev/video"):
            return _spec("v4l2", raw, {}, raw)
        return _spec("images" if any(c in raw for c in "*?[") else "path", raw, {}, raw)
    body, _, query = rest.partition("?")
    kind = next((k for k in SOURCES.values() if scheme.lower() in k.schemes), None)
    if kind is None:
        near = difflib.get_close_matches(scheme.lower(), [s for k in SOURCES.values() for s in k.schemes], n=1, cutoff=0.6)
        raise EdgeUnetError(f"source {shown}: unknown scheme {scheme}://" + (f" (did you mean {near[0]}://?)" if near else "")
                            + f"; give {grammar()}")
    if kind.parse is None:  # a network URL: opened as given, shown redacted
        return _spec(kind.name, raw, {}, shown)
    return kind.parse(raw, kind.name, body, query)


def _parse_file(raw: str, kind: str, body: str, query: str) -> SourceSpec:
    return _spec("images" if any(c in body for c in "*?[") else "path", body, {}, raw)


def _parse_gst(raw: str, kind: str, body: str, query: str) -> SourceSpec:
    pipeline = body[2:].strip() if body.startswith("//") else body.strip()
    if not pipeline:
        raise EdgeUnetError("source gst: needs a pipeline, e.g. gst:videotestsrc ! videoconvert ! appsink")
    return _spec("gst", pipeline, {}, raw)


def _parse_numbered(what: str, example: str) -> Parse:
    """camera://N, csi://N: a number, then options."""
    def parse(raw: str, kind: str, body: str, query: str) -> SourceSpec:
        if not body.isdigit():
            raise EdgeUnetError(f"source {raw}: {kind}://N needs a {what} number, e.g. {example}")
        return _spec(kind, body, _options(query, raw), raw)

    return parse


def _parse_v4l2(raw: str, kind: str, body: str, query: str) -> SourceSpec:
    device = body if body.startswith("/") else f"/dev/{body}" if body else ""
    if not device:
        raise EdgeUnetError(f"source {raw}: name the device, e.g. v4l2:///dev/video0")
    return _spec("v4l2", device, _options(query, raw), raw)


# -- what this OpenCV can do --------------------------------------------------------------------
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


def _open_path(spec: SourceSpec, fps: Optional[float]) -> Source:
    path = Path(spec.location).expanduser()
    if spec.kind == "path" and not path.exists():
        raise EdgeUnetError(f"source {spec.text}: no such file or folder; give {grammar()}")
    if spec.kind == "images" or path.is_dir() or path.suffix.lower() in FRAME_SUFFIXES:
        files = _image_files(spec)
        if not files:
            raise EdgeUnetError(f"source {spec.text}: no images ({', '.join(FRAME_SUFFIXES)}) found there")
        return ImageFolderSource(spec, files, fps).open()
    opener = HardwareOpener(machine_decoder(str(path)), lambda: _capture(str(path)))
    return VideoCaptureSource(
        spec, opener, "a video file",
        "OpenCV/FFmpeg cannot decode it: check the file, or convert it with `ffmpeg -i IN -c:v libx264 out.mp4`", fps,
    ).open()


def _network_opener(url: str) -> Callable[[], Any]:
    if url.lower().startswith(("rtsp", "rtmp")):
        # TCP: no smeared frames from lost UDP packets; the user's own setting wins.
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    software = lambda: _capture(url, cv2.CAP_FFMPEG, params)  # noqa: E731
    return HardwareOpener(machine_decoder(url, live=True), software) if url.lower().startswith("rtsp") else software


def _open_network(spec: SourceSpec, fps: Optional[float]) -> Source:
    return VideoCaptureSource(spec, _network_opener(spec.location), f"{spec.kind.upper()} stream",
                              f"is the server up and the address right? (no answer within {OPEN_TIMEOUT_MS // 1000} s)", fps).open()


def _open_camera_source(spec: SourceSpec, fps: Optional[float]) -> Source:
    opts = spec.options
    return VideoCaptureSource(spec, lambda: _open_camera(int(spec.location), cv2.CAP_ANY, opts, opts.get("format")),
                              f"camera {spec.location}", "is a camera plugged in and free? list them with `v4l2-ctl --list-devices`",
                              fps or opts.get("fps")).open()


def _open_v4l2(spec: SourceSpec, fps: Optional[float]) -> Source:
    if not Path(spec.location).exists():
        raise EdgeUnetError(f"source {spec.text}: no such device {spec.location}; list cameras with `v4l2-ctl --list-devices`")
    wanted = {**CAMERA_DEFAULTS, **spec.options}
    return VideoCaptureSource(spec, lambda: _open_camera(spec.location, cv2.CAP_V4L2, wanted, wanted.get("format", "MJPG")),
                              f"V4L2 device {spec.location}", "is it a capture device, and not in use by another program?",
                              fps or wanted["fps"]).open()


def _open_csi(spec: SourceSpec, fps: Optional[float]) -> Source:
    require_gstreamer(f"source {spec.text}")
    wanted = {**CAMERA_DEFAULTS, **spec.options}
    pipeline = csi_pipeline(int(spec.location), wanted["width"], wanted["height"], wanted["fps"], wanted.get("flip", 0))
    return VideoCaptureSource(spec, lambda: _capture(pipeline, cv2.CAP_GSTREAMER), f"CSI sensor {spec.location}",
                              "is the ribbon seated and nvargus-daemon running? (sudo systemctl restart nvargus-daemon)",
                              fps or wanted["fps"]).open()


def _open_gst(spec: SourceSpec, fps: Optional[float]) -> Source:
    require_gstreamer(f"source gst:{spec.location}")
    pipeline = gst_pipeline(spec.location)
    return VideoCaptureSource(spec, lambda: _capture(pipeline, cv2.CAP_GSTREAMER), "GStreamer pipeline",
                              "check it with gst-launch-1.0 first", fps).open()


def _no_gstreamer() -> Optional[str]:
    return None if opencv_has("GStreamer") else f"this OpenCV {cv2.__version__} has no GStreamer"


register_source(SourceKind("path", "a video file, an image folder, file://PATH", _open_path, schemes=("file",), parse=_parse_file))
register_source(SourceKind("images", "an image glob ('frames/*.png')", _open_path))
register_source(SourceKind("camera", "0 / camera://0", _open_camera_source, schemes=("camera",),
                           parse=_parse_numbered("camera", "camera://0"), live=True))
register_source(SourceKind("v4l2", "v4l2:///dev/video0", _open_v4l2, schemes=("v4l2",), parse=_parse_v4l2, live=True))
register_source(SourceKind("csi", "csi://0", _open_csi, schemes=("csi",), parse=_parse_numbered("sensor", "csi://0"), live=True,
                           problem=_no_gstreamer))
register_source(SourceKind("rtsp", "rtsp://...", _open_network, schemes=("rtsp", "rtsps", "rtmp"), live=True))
register_source(SourceKind("http", "http://...", _open_network, schemes=("http", "https"), live=True))
register_source(SourceKind("gst", "gst:PIPELINE", _open_gst, schemes=("gst",), parse=_parse_gst, live=True, problem=_no_gstreamer))


def open_source(spec: SourceSpec | str, fps: Optional[float] = None) -> Source:
    """An opened source for `spec`, or an EdgeUnetError that says what, where and what to do."""
    if isinstance(spec, str):
        spec = parse_source(spec)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own lines would break our one-line errors
    kind = SOURCES.get(spec.kind)
    if kind is None:
        raise EdgeUnetError(f"source {spec.text or spec.location}: unknown source kind {spec.kind!r}; known: {', '.join(SOURCES)}")
    return kind.open(spec, fps)
