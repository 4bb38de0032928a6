"""Frame sinks behind one URI grammar (after jetson-inference's videoOutput); several can run at once.

    out.mp4 | out.avi | frames/ | display:// | web://HOST:PORT | mjpeg://HOST:PORT | rtsp://HOST:PORT/PATH | null

web:// (the live page, edgeunet.stream.web) and mjpeg:// (the bare MJPEG stream) are one aiohttp server;
rtsp:// (edgeunet.stream.rtsp) is GStreamer's RTSP server. As an --output, rtsp:// means "serve"; as the
SOURCE argument it means "read from a camera" (edgeunet.stream.sources).

The sink table (`SINKS`, one `SinkKind` row per kind, registered next to its class) is the grammar:
`parse_sink` (pure) reads it, and refuses in one line a name that looks like a mistyped sink (`-o nul`,
`display:`, `web:/x`) instead of making a folder of that name. `open_sinks` checks everything that can be
checked before the first frame (writable folder, codec, free port, a screen): a mistake is one line at start.
Files are never half-written: a video is encoded under a temporary name next to its target and renamed on
close; each image is written whole, then renamed. OpenCV only, no torch.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from edgeunet.core.atomic import ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.registry import add_row
from edgeunet.stream.sink_base import Sink, SinkSpec, StreamInfo
from edgeunet.stream.video_sink import VIDEO_FOURCC, VideoFileSink

__all__ = ["SINKS", "VIDEO_FOURCC", "Sink", "SinkKind", "SinkSpec", "StreamInfo", "VideoFileSink", "make_sink", "open_sinks", "parse_sink",
           "register_sink"]

DEFAULT_MJPEG, DEFAULT_WEB, DEFAULT_RTSP = ("127.0.0.1", 8090), ("127.0.0.1", 8080), ("127.0.0.1", 8554)
HEADLESS_HINT = ("watch from a browser with --output web://127.0.0.1:8080 (another machine: web://0.0.0.0:8080 with a --token; "
                 "a bare stream: mjpeg://HOST:PORT), or write a file (--output out.mp4)")
TYPO_CUTOFF = 0.75  # difflib ratio above which a bare word is taken for a mistyped sink name ('nul' ~ 'null': 0.86)
Build = Callable[[SinkSpec, float, Any], Sink]  # (spec, fps, web options) -> an unopened sink


# -- the sink table ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkKind:
    """One row of the sink table: how an --output names it, how it is built, and what this machine lacks for it.

    `schemes` select it as `scheme://...` and `words` as a bare word (`null`); `parse` reads the rest after
    `scheme://` (default: nothing to read); `build` makes the sink (import a heavy module inside it, not at the
    top, so `-o out.mp4` never loads aiohttp or GStreamer); `problem` says why it cannot run here (the doctor asks).
    """

    name: str
    usage: str  # how a user writes it, as the help and every error list it
    build: Build
    schemes: Tuple[str, ...] = ()
    words: Tuple[str, ...] = ()
    parse: Optional[Callable[[str, str], SinkSpec]] = None  # (the text, the rest after scheme://) -> SinkSpec
    suffixes: Tuple[str, ...] = ()  # file types it writes (a path with one of them selects it)
    folder: bool = False  # a path without a file type (or ending in /) selects it
    listens: bool = False  # a server: follows the token rule of edgeunet.stream.access
    problem: Optional[Callable[[], Optional[str]]] = None


SINKS: Dict[str, SinkKind] = {}


def register_sink(kind: SinkKind) -> SinkKind:
    """Add a row; a name, scheme or word given twice is a programming error, caught at import."""
    return add_row(SINKS, kind.name, kind, lambda row: (*row.schemes, *row.words), "sink")


def listening_schemes() -> Tuple[str, ...]:
    """The schemes of servers (web://, mjpeg://, rtsp://, a newcomer's): they follow the token rule of stream.access."""
    return tuple(scheme for kind in SINKS.values() if kind.listens for scheme in kind.schemes)


def grammar() -> str:
    """Every way to write an output, from the table: what --help and the one-line errors list."""
    return ", ".join(k.usage for k in SINKS.values())


def _by(attribute: str) -> Dict[str, SinkKind]:
    return {name: kind for kind in SINKS.values() for name in getattr(kind, attribute)}


def _mistyped(text: str, candidates: Sequence[str]) -> Optional[str]:
    close = difflib.get_close_matches(text.lower(), list(candidates), n=1, cutoff=TYPO_CUTOFF)
    return close[0] if close else None


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
    """Output text -> SinkSpec by the table; an unknown scheme, file type or a mistyped name is a one-line error."""
    raw = str(text).strip()
    if not raw:
        raise EdgeUnetError(f"empty output: give {grammar()}")
    scheme, sep, rest = raw.partition("://")
    if sep:
        kind = _by("schemes").get(scheme.lower())
        if kind is not None:
            return kind.parse(raw, rest) if kind.parse else SinkSpec(kind.name, text=raw)
        if scheme.lower() != "file":
            near = _mistyped(scheme, list(_by("schemes")))
            raise EdgeUnetError(f"output {raw}: unknown scheme {scheme}://" + (f" (did you mean {near}://?)" if near else "")
                                + f"; give {grammar()}")
        return _file_sink(rest, raw)
    kind = _by("words").get(raw.lower())
    if kind is not None:
        return SinkSpec(kind.name, text=raw)
    _refuse_lookalike(raw)
    return _file_sink(raw, raw)


def _refuse_lookalike(raw: str) -> None:
    """`display:`, `web:/x`, `nul`: a sink name gone wrong, not a folder to fill with frames. One line naming the closest sink."""
    names = [*_by("schemes"), *_by("words")]
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]+):", raw)  # one letter before ':' is a Windows drive, not a scheme
    if scheme and not raw.startswith(("./", "/")):
        near = _mistyped(scheme.group(1), names) or scheme.group(1)
        raise EdgeUnetError(f"output {raw}: looks like the sink {_spelled(near)} mistyped (a scheme needs ://); "
                            f"for a folder of that name write ./{raw}/; give {grammar()}")
    if "/" in raw or os.sep in raw or Path(raw).suffix:
        return
    near = _mistyped(raw, names)
    if near is not None:
        raise EdgeUnetError(f"output {raw}: did you mean the sink {_spelled(near)}? For a folder of frames named {raw}, write {raw}/")


def _spelled(name: str) -> str:
    """A sink name as the table shows it to users: null, display://, web://HOST:PORT."""
    kind = _by("words").get(name) or _by("schemes").get(name)
    return kind.usage if kind else name


def _file_sink(raw: str, shown: str) -> SinkSpec:
    """A file or folder path: the kind whose suffixes hold its suffix (video), the folder kind (images), or a one-line error."""
    suffix = Path(raw).suffix.lower()
    if raw.endswith(("/", os.sep)) or not suffix:
        kind = next((k for k in SINKS.values() if k.folder), None)
    else:
        kind = _by("suffixes").get(suffix)
    if kind is None:
        raise EdgeUnetError(f"output {shown}: unknown file type {suffix or '(folder)'}; give {grammar()}")
    return SinkSpec(kind.name, location=raw, text=shown)


def _parse_server(default: Tuple[str, int], kind: str) -> Callable[[str, str], SinkSpec]:
    """web:// and mjpeg://: HOST:PORT, either part optional."""
    def parse(raw: str, rest: str) -> SinkSpec:
        host, port = _address(raw, rest, default)
        return SinkSpec(kind, host=host, port=port, text=raw)

    return parse


def _parse_rtsp(raw: str, rest: str) -> SinkSpec:
    """rtsp://HOST:PORT/PATH to serve; the path defaults to /edgeunet. A password belongs in --token, never in the URL."""
    authority, _, path = rest.partition("/")
    if "@" in authority:
        raise EdgeUnetError(f"output rtsp://***@{authority.rpartition('@')[2]}/{path}: put no user or password in an rtsp:// "
                            "output; give the password with --token (the user is edgeunet)")
    host, port = _address(raw, authority, DEFAULT_RTSP)
    path = "/" + path.strip("/") if path.strip("/") else "/edgeunet"
    return SinkSpec("rtsp", location=path, host=host, port=port, text=raw)


# -- sinks ---------------------------------------------------------------------------------------
class NullSink(Sink):
    """Frames go nowhere: for timing the pipeline without an output's cost."""


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


# -- the table's rows: one per kind, next to the implementations -------------------------------------
def _web(spec: SinkSpec, fps: float, web: Any) -> Sink:
    from edgeunet.stream.web import WebSink  # aiohttp is imported when a server is asked for, never before

    return WebSink(spec, web)


def _rtsp(spec: SinkSpec, fps: float, web: Any) -> Sink:
    from edgeunet.stream.rtsp import RtspSink  # gi/GStreamer are imported when it opens, never before

    return RtspSink(spec, fps, web)


def _rtsp_problem() -> Optional[str]:
    from edgeunet.stream.rtsp import load_gstreamer

    try:
        load_gstreamer()
    except EdgeUnetError as exc:
        return str(exc)
    return None


register_sink(SinkKind("video", "a video file (.mp4 .avi .mkv .mov)", lambda spec, fps, web: VideoFileSink(spec, fps),
                       suffixes=tuple(VIDEO_FOURCC)))
register_sink(SinkKind("images", "a folder for frames (frames/)", lambda spec, fps, web: ImageFolderSink(spec), folder=True))
register_sink(SinkKind("display", "display://", lambda spec, fps, web: DisplaySink(spec), schemes=("display",), words=("display",),
                       parse=lambda raw, rest: SinkSpec("display", location=rest or "0", text=raw), problem=display_problem))
register_sink(SinkKind("web", "web://HOST:PORT", _web, schemes=("web",), parse=_parse_server(DEFAULT_WEB, "web"), listens=True))
register_sink(SinkKind("mjpeg", "mjpeg://HOST:PORT", _web, schemes=("mjpeg",), parse=_parse_server(DEFAULT_MJPEG, "mjpeg"),
                       listens=True))
register_sink(SinkKind("rtsp", "rtsp://HOST:PORT/PATH", _rtsp, schemes=("rtsp",), parse=_parse_rtsp, listens=True,
                       problem=_rtsp_problem))
register_sink(SinkKind("null", "null", lambda spec, fps, web: NullSink(spec), schemes=("null",), words=("null", "none")))


def make_sink(spec: SinkSpec | str, fps: Optional[float] = None, web: Any = None) -> Sink:
    """A sink for `spec`; `web` (edgeunet.stream.web.WebOptions) sets token, viewer limit (and snapshot folder) for web://, mjpeg://, rtsp://."""
    if isinstance(spec, str):
        spec = parse_sink(spec)
    kind = SINKS.get(spec.kind)
    if kind is None:
        raise EdgeUnetError(f"output {spec.text or spec.kind}: unknown sink kind {spec.kind!r}; known: {', '.join(SINKS)}")
    return kind.build(spec, fps or 30.0, web)


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
