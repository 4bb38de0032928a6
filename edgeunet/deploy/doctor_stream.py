"""The doctor's checks for live streaming: which H.264 encoder rtsp:// will use, and whether a Jetson runs at full clocks.

Why apart from doctor.py: that module covers the inference stack (TensorRT, CUDA, ONNX Runtime); these two
questions are about the stream. Why the clocks: a Jetson below MAXN, or with jetson_clocks not applied,
lets the governor lower the GPU clock between frames, and every latency the stream reports is then a
mixture of the model and the governor (the stream's --stats marks spikes that coincide with a clock drop).
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.deploy.doctor import MISSING, NA, OK, WARN, Check, _run
from edgeunet.stream.rtsp import INSTALL_HINT, JETSON_ENCODER, choose_encoder, load_gstreamer

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


def check_clocks(run: Callable[[List[str]], Optional[str]] = _run) -> Check:
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


STREAM_CHECKS: Tuple[Callable[[], Check], ...] = (check_h264_encoder, check_clocks)
