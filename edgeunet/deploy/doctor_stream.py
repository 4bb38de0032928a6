"""The doctor's checks for live streaming: the sources and sinks this machine can open (read from their tables), which
decoder and encoder video goes through (NVDEC/NVENC or OpenCV/FFmpeg), which H.264 encoder rtsp:// will use, and
whether a Jetson runs at full clocks.

Why apart from doctor.py: that module covers the inference stack (TensorRT, CUDA, ONNX Runtime); these two
questions are about the stream. Why the clocks: a Jetson below MAXN, or with jetson_clocks not applied,
lets the governor lower the GPU clock between frames, and every latency the stream reports is then a
mixture of the model and the governor (the stream's --stats marks spikes that coincide with a clock drop).
"""

from __future__ import annotations

import re
from typing import Any, Callable, List, Mapping, Optional, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.deploy.checks import MISSING, NA, OK, WARN, Check, release_file, run_probe
from edgeunet.stream import codecs
from edgeunet.stream.rtsp import INSTALL_HINT, JETSON_ENCODER, choose_encoder, load_gstreamer
from edgeunet.stream.sinks import SINKS
from edgeunet.stream.sources import SOURCES

CODECS_HINT = ("use JetPack's GStreamer-enabled OpenCV (sudo apt install python3-opencv nvidia-l4t-gstreamer; a venv made with "
               "--system-site-packages), and PyGObject or gst-inspect-1.0 to find the elements")
CLOCKS_HINT = "sudo nvpmodel -m 0 && sudo jetson_clocks (MAXN and fixed clocks; see deploy/jetson/README.md)"
# cpuN (kHz), GPU and EMC (Hz); DLA/PVA idle at low clocks by design and are left out
_CLOCK_LINE = re.compile(r"^\s*(cpu\d+|GPU|EMC):?\s+(.*?)MinFreq=(\d+)\s+MaxFreq=(\d+)\s+CurrentFreq=(\d+)", re.MULTILINE)
_POWER_MODE = re.compile(r"NV Power Mode:\s*(\S+)")


def check_h264_encoder(find: Optional[Callable[[str], bool]] = None) -> Check:
    """rtsp:// output: nvv4l2h264enc (Jetson hardware) / x264enc (CPU) / none, and what to install when it cannot stream."""
    if find is None:
        try:
            Gst, _server, _glib = load_gstreamer()
        except EdgeUnetError:
            return Check("H.264 (rtsp://)", MISSING, "no GStreamer RTSP server for this Python (gi, GstRtspServer)", INSTALL_HINT)
        find = lambda name: Gst.ElementFactory.find(name) is not None  # noqa: E731
    encoder = choose_encoder(find)
    if encoder is None:
        return Check("H.264 (rtsp://)", MISSING, "none: GStreamer has neither nvv4l2h264enc nor x264enc",
                     "sudo apt-get install -y gstreamer1.0-plugins-ugly (x264enc); on Jetson: nvidia-l4t-gstreamer")
    if not find("rtph264pay"):
        return Check("H.264 (rtsp://)", MISSING, f"{encoder}, but no rtph264pay", "sudo apt-get install -y gstreamer1.0-plugins-good")
    kind = "Jetson hardware encoder" if encoder == JETSON_ENCODER else "software, on the CPU"
    return Check("H.264 (rtsp://)", OK, f"{encoder} ({kind})")


def clocks_below_max(show: str) -> List[Tuple[str, int, int]]:
    """`jetson_clocks --show` text -> [(clock, current, max)] for every online clock running below its maximum (pure)."""
    below = []
    for name, between, _low, high, now in _CLOCK_LINE.findall(show):
        if "Online=0" not in between and int(now) < int(high):
            below.append((name, int(now), int(high)))
    return below


def _mhz(name: str, value: int) -> int:
    """jetson_clocks prints CPU clocks in kHz, GPU and EMC in Hz."""
    return value // 1000 if name.startswith("cpu") else value // 1_000_000


def power_mode(nvpmodel_q: str) -> Optional[str]:
    """`nvpmodel -q` text -> 'MAXN', '15W', ... or None."""
    match = _POWER_MODE.search(nvpmodel_q or "")
    return match.group(1) if match else None


def check_clocks(run: Callable[[List[str]], Optional[str]] = run_probe) -> Check:
    """Jetson only: warn unless the power mode is MAXN-like and jetson_clocks shows every clock at its maximum."""
    mode_text, show = run(["nvpmodel", "-q"]), run(["jetson_clocks", "--show"])
    if mode_text is None and show is None:
        return Check("Jetson clocks", NA, "not a Jetson (no nvpmodel / jetson_clocks), or they need root")
    problems = []
    mode = power_mode(mode_text or show or "")
    if mode is not None and "MAXN" not in mode.upper():
        problems.append(f"power mode {mode} (not MAXN)")
    below = clocks_below_max(show or "")
    if below:
        shown = ", ".join(f"{name} {_mhz(name, now)} of {_mhz(name, high)} MHz" for name, now, high in below[:4])
        problems.append(f"{len(below)} clock(s) below max ({shown}{', ...' if len(below) > 4 else ''})")
    if show is None:
        problems.append("jetson_clocks --show gave nothing (run the doctor with sudo to see the clocks)")
    if problems:
        return Check("Jetson clocks", WARN, "; ".join(problems) + ": latencies include the governor", CLOCKS_HINT)
    return Check("Jetson clocks", OK, f"power mode {mode or '?'}, every clock at its maximum")


def _short(problem: str) -> str:
    """The first clause of a one-line error: what is missing, without the install steps."""
    return problem.split(";", maxsplit=1)[0].split(": ", maxsplit=1)[0]


def check_kinds(what: str, table: Mapping[str, Any]) -> Check:
    """Every row of a source or sink table: ready here, or the reason it is not (the rows' own `problem`)."""
    problems = {name: row.problem() if row.problem else None for name, row in table.items()}
    ready = [name for name, problem in problems.items() if problem is None]
    missing = [f"{name} ({_short(problem)})" for name, problem in problems.items() if problem is not None]
    detail = "ready: " + ", ".join(ready) + (f"; not here: {', '.join(missing)}" if missing else "")
    return Check(what, OK if ready else MISSING, detail)


def check_video_codecs(find: Optional[Callable[[str], bool]] = None, opencv_gstreamer: Optional[bool] = None) -> Check:
    """Which path H.264 files / rtsp:// cameras are decoded and .mp4 outputs encoded through on this machine."""
    if opencv_gstreamer is None:
        opencv_gstreamer = codecs.opencv_has("GStreamer")
    if find is None:
        find = codecs.gstreamer_elements() if opencv_gstreamer else (lambda _name: False)
    decode = codecs.choose_decoder("video.mp4", "avc1", find, opencv_gstreamer)
    encode = codecs.choose_encoder("out.mp4", 30.0, find, opencv_gstreamer)
    detail = f"decode {decode.describe()}, encode {encode.describe('OpenCV mp4v')}"
    if decode.hardware and encode.hardware:
        return Check("Video codecs", OK, detail + ": NVDEC/NVENC")
    on_jetson = release_file().is_file()
    return Check("Video codecs", WARN if on_jetson else OK, detail + ("" if on_jetson else ": on the CPU (no Jetson)"), CODECS_HINT)


def check_sources() -> Check:
    return check_kinds("Sources", SOURCES)


def check_sinks() -> Check:
    return check_kinds("Outputs", SINKS)


STREAM_CHECKS: Tuple[Callable[[], Check], ...] = (check_sources, check_sinks, check_video_codecs, check_h264_encoder, check_clocks)
