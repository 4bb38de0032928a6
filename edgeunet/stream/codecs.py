"""Which decoder a video file or RTSP camera goes through, and which encoder an mp4 output: Jetson NVDEC/NVENC or OpenCV/FFmpeg.

On a Jetson, decoding 1080p H.264 with FFmpeg costs a CPU core that the pixel stages need; GStreamer's
`nvv4l2decoder` (NVDEC) and `nvv4l2h264enc` (NVENC) do it in hardware, and OpenCV reaches them when it is
built with GStreamer (JetPack's is). The choice is automatic: the hardware path when OpenCV has GStreamer
and GStreamer has every element the pipeline names (`Gst.ElementFactory.find`, or `gst-inspect-1.0` when
PyGObject is absent); otherwise OpenCV/FFmpeg, with one line naming what is missing. The run's header,
--stats and `edgeunet doctor` show which path was taken.

The pipeline strings are pure functions of (location, codec, element names), so the tests run the very same
pipelines with the software elements (`avdec_h264`, `x264enc`) wherever GStreamer is installed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import cv2

HW_DECODER, HW_CONVERT, HW_ENCODER = "nvv4l2decoder", "nvvidconv", "nvv4l2h264enc"
SW_DECODERS = {"h264": "avdec_h264", "h265": "avdec_h265"}
SW_ENCODER = "x264enc"
OPENCV = "OpenCV/FFmpeg"
DEMUXERS = {".mp4": "qtdemux", ".m4v": "qtdemux", ".mov": "qtdemux", ".mkv": "matroskademux", ".webm": "matroskademux",
            ".avi": "avidemux"}
MUXERS = {".mp4": "qtmux", ".m4v": "qtmux", ".mov": "qtmux", ".mkv": "matroskamux"}
CODECS = {"avc1": "h264", "avc3": "h264", "h264": "h264", "x264": "h264", "hev1": "h265", "hvc1": "h265", "h265": "h265",
          "hevc": "h265"}
PROBE_TIMEOUT_S = 5
OFF_ENV = "EDGEUNET_NO_GSTREAMER_CODECS"  # set: always OpenCV/FFmpeg (a hardware path that misbehaves on one board)
Finder = Callable[[str], bool]


@dataclass(frozen=True)
class CodecChoice:
    """A decision: `element` is the GStreamer element doing the work, or OPENCV; `reason` says why the hardware path is not used."""

    element: str
    pipeline: Optional[str] = None  # the gst-launch description; None means OpenCV/FFmpeg (its own demuxer and codec)
    reason: str = ""

    @property
    def hardware(self) -> bool:
        return self.pipeline is not None

    def describe(self, fallback: str = OPENCV) -> str:
        """What the header and --stats show: 'nvv4l2decoder (GStreamer)' or 'OpenCV/FFmpeg (no nvv4l2decoder in GStreamer)'."""
        return f"{self.element} (GStreamer)" if self.pipeline else f"{fallback} ({self.reason})" if self.reason else fallback


# -- pure: pipeline strings ------------------------------------------------------------------------
def quote(value: str) -> str:
    """A gst-launch property value: double-quoted, with backslashes and quotes escaped (paths may hold spaces)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def codec_of(fourcc: str) -> Optional[str]:
    """'avc1' -> 'h264', 'hvc1' -> 'h265'; None for codecs without a GStreamer path here (mp4v, MJPG, ...)."""
    return CODECS.get(fourcc.strip().lower())


def _is_rtsp(location: str) -> bool:
    return location.lower().startswith(("rtsp://", "rtsps://"))


def decode_head(location: str, codec: str) -> List[str]:
    """The elements before the parser: a file's demuxer (by suffix, parsebin when unknown) or rtspsrc + depayloader."""
    if _is_rtsp(location):
        return [f"rtspsrc location={quote(location)} latency=200 protocols=tcp", f"rtp{codec}depay"]
    return [f"filesrc location={quote(location)}", DEMUXERS.get(Path(location).suffix.lower(), "parsebin")]


def decode_pipeline(location: str, codec: str, decoder: str, live: bool = False) -> str:
    """A file or rtsp:// URL -> BGR frames in an appsink (what cv2.VideoCapture(..., cv2.CAP_GSTREAMER) reads).

    nvv4l2decoder writes NVMM (GPU) buffers: nvvidconv brings them to BGRx in CPU memory, videoconvert drops the x.
    A live source keeps only the newest frame; a file keeps every frame.
    """
    if decoder == HW_DECODER:
        convert = [HW_DECODER, HW_CONVERT, "video/x-raw,format=BGRx", "videoconvert", "video/x-raw,format=BGR"]
    else:
        convert = [decoder, "videoconvert", "video/x-raw,format=BGR"]
    sink = "appsink drop=true max-buffers=1 sync=false" if live else "appsink max-buffers=2 sync=false"
    return " ! ".join([*decode_head(location, codec), f"{codec}parse", *convert, sink])


def encode_pipeline(path: str, encoder: str, fps: float) -> str:
    """BGR frames from OpenCV's appsrc -> H.264 -> the container of `path` (qtmux for .mp4), a key frame about every second."""
    gop = max(1, round(fps))
    if encoder == HW_ENCODER:
        encode = ["video/x-raw,format=BGRx", HW_CONVERT, "video/x-raw(memory:NVMM),format=NV12",
                  f"{HW_ENCODER} insert-sps-pps=true iframeinterval={gop} idrinterval={gop}"]
    else:
        encode = ["video/x-raw,format=I420", f"{encoder} speed-preset=ultrafast tune=zerolatency key-int-max={gop}"]
    mux = MUXERS.get(Path(path).suffix.lower(), "qtmux")
    return " ! ".join(["appsrc", "videoconvert", *encode, "h264parse", mux, f"filesink location={quote(path)}"])


def elements_of(pipeline: str) -> List[str]:
    """The element names a description uses (caps filters left out): what must exist for it to start."""
    names = [part.strip().split(" ", 1)[0] for part in pipeline.split(" ! ")]
    return [name for name in names if name and "/" not in name]


# -- pure: the decision ----------------------------------------------------------------------------
def choose(pipeline: str, element: str, find: Finder, opencv_gstreamer: bool) -> CodecChoice:
    """The GStreamer path when OpenCV has GStreamer and every element exists, else OpenCV/FFmpeg naming the first missing one."""
    if not opencv_gstreamer:
        return CodecChoice(OPENCV, None, f"this OpenCV has no GStreamer, which {element} needs")
    needed = [element, *(name for name in elements_of(pipeline) if name != element)]  # the hardware element is named first
    missing = [name for name in needed if not find(name)]
    if missing:
        return CodecChoice(OPENCV, None, f"no {missing[0]} in GStreamer")
    return CodecChoice(element, pipeline)


def choose_decoder(location: str, fourcc: str, find: Finder, opencv_gstreamer: bool, live: bool = False) -> CodecChoice:
    """nvv4l2decoder for H.264/H.265 in a known container or over RTSP; OpenCV/FFmpeg otherwise, with the reason."""
    codec = codec_of(fourcc) if fourcc else "h264"  # an RTSP camera's codec is known only once it plays: H.264 is the norm
    if codec is None:
        return CodecChoice(OPENCV, None, f"codec {fourcc.strip() or '?'} has no {HW_DECODER} path")
    return choose(decode_pipeline(location, codec, HW_DECODER, live), HW_DECODER, find, opencv_gstreamer)


def choose_encoder(path: str, fps: float, find: Finder, opencv_gstreamer: bool) -> CodecChoice:
    """nvv4l2h264enc for .mp4/.m4v/.mov/.mkv outputs; OpenCV's own writer otherwise (.avi stays MJPG: no H.264 wanted there)."""
    if Path(path).suffix.lower() not in MUXERS:
        return CodecChoice(OPENCV, None, "")
    return choose(encode_pipeline(path, HW_ENCODER, fps), HW_ENCODER, find, opencv_gstreamer)


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV's GStreamer backend warns on stderr for streams without a duration (every live one): not the user's business.

    OpenCV 4 has cv2.setLogLevel (JetPack's 4.x has no cv2.utils.logging); OpenCV 5 has only cv2.utils.logging.
    """
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    get, put = (logging.getLogLevel, logging.setLogLevel) if logging is not None else (
        getattr(cv2, "getLogLevel", None), getattr(cv2, "setLogLevel", None))
    if get is None or put is None:
        yield
        return
    previous = get()
    put(2)  # LOG_LEVEL_ERROR in both spellings
    try:
        yield
    finally:
        put(previous)


# -- what this machine has -------------------------------------------------------------------------
def opencv_has(feature: str) -> bool:
    """Whether cv2's build information lists `feature` (e.g. 'GStreamer') as YES."""
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name.strip().lower() == feature.lower():
            return value.strip().upper().startswith("YES")
    return False


@functools.lru_cache(maxsize=None)
def _gst_finder() -> Optional[Finder]:
    """Gst.ElementFactory.find through PyGObject, else gst-inspect-1.0, else None (GStreamer cannot be asked)."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst

        Gst.init(None)
        return lambda name: Gst.ElementFactory.find(name) is not None
    except (ImportError, ValueError):
        pass
    if shutil.which("gst-inspect-1.0") is None:
        return None
    return _inspect


@functools.lru_cache(maxsize=None)
def _inspect(name: str) -> bool:
    try:
        return subprocess.run(["gst-inspect-1.0", name], capture_output=True, timeout=PROBE_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def gstreamer_elements() -> Finder:
    """element name -> exists; a GStreamer that cannot be asked has none."""
    finder = _gst_finder()
    return finder if finder is not None else (lambda _name: False)


def video_fourcc(path: str) -> str:
    """The codec FOURCC of a video file as FFmpeg reads it ('avc1', 'mp4v', ...), '' when it cannot be read."""
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0) if cap.isOpened() else 0
    finally:
        cap.release()
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\x00") if code else ""


def _gstreamer_here() -> Optional[str]:
    """None when OpenCV can run GStreamer pipelines here, else why not."""
    if os.environ.get(OFF_ENV):
        return f"{OFF_ENV} is set"
    return None if opencv_has("GStreamer") else "this OpenCV has no GStreamer"


def _decided(choice: CodecChoice, why_not: Optional[str]) -> CodecChoice:
    """The switch's own reason when it turned GStreamer off (choose() would blame OpenCV's build)."""
    return CodecChoice(OPENCV, None, why_not) if why_not and why_not.startswith(OFF_ENV) and not choice.pipeline else choice


def machine_decoder(location: str, live: bool = False) -> CodecChoice:
    """The decode path this machine takes for a file (its codec probed with FFmpeg) or an rtsp:// URL."""
    why_not = _gstreamer_here()
    fourcc = "" if _is_rtsp(location) else video_fourcc(location)
    if not _is_rtsp(location) and not fourcc:
        return CodecChoice(OPENCV, None, "codec unknown")
    find = gstreamer_elements() if why_not is None else (lambda _name: False)
    return _decided(choose_decoder(location, fourcc, find, why_not is None, live), why_not)


def machine_encoder(path: str, fps: float) -> CodecChoice:
    """The encode path this machine takes for a video output."""
    why_not = _gstreamer_here()
    find = gstreamer_elements() if why_not is None else (lambda _name: False)
    return _decided(choose_encoder(path, fps, find, why_not is None), why_not)
