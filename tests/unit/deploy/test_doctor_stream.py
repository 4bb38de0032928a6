"""The doctor's stream checks: source/sink tables, video codecs, H.264 encoder, Jetson clocks, from recorded tool output (no Jetson needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import pytest

from edgeunet.deploy import doctor_stream
from edgeunet.deploy.checks import RELEASE_ENV
from edgeunet.deploy.doctor import MISSING, NA, OK, WARN
from edgeunet.stream.sinks import SINKS
from edgeunet.stream.sources import SOURCES

# `sudo jetson_clocks --show` on an Orin Nano in the 25 W mode, clocks left to the governor (the shape recorded in a
# public Orin Nano bring-up note; IdleStates and the fan lines as printed there, CPU clocks in kHz, GPU/EMC in Hz).
ORIN_NANO_25W = """SOC family:tegra234  Machine:NVIDIA Jetson Orin Nano Developer Kit
Online CPUs: 0-5
cpu0:  Governor=schedutil MinFreq=729600 MaxFreq=1344000 CurrentFreq=1344000 IdleStates: WFI=1 c7=1
cpu1:  Governor=schedutil MinFreq=729600 MaxFreq=1344000 CurrentFreq=960000 IdleStates: WFI=1 c7=1
cpu2:  Governor=schedutil MinFreq=729600 MaxFreq=1344000 CurrentFreq=1344000 IdleStates: WFI=1 c7=1
GPU MinFreq=306000000 MaxFreq=918000000 CurrentFreq=306000000
Active GPU TPCs: 4
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=665600000
FAN Dynamic Speed Control=nvfancontrol hwmon0_pwm1=60
NV Power Mode: 25W
"""
# After `sudo nvpmodel -m 0 && sudo jetson_clocks` (Jetson Nano, JetPack 4 shape: an offline core is not a problem).
LOCKED = """cpu0: Online=1 Governor=schedutil MinFreq=1479000 MaxFreq=1479000 CurrentFreq=1479000 IdleStates: WFI=0 c7=0
cpu3: Online=0 Governor=schedutil MinFreq=1479000 MaxFreq=1479000 CurrentFreq=102000 IdleStates: WFI=0 c7=0
GPU MinFreq=921600000 MaxFreq=921600000 CurrentFreq=921600000
EMC MinFreq=204000000 MaxFreq=1600000000 CurrentFreq=1600000000 FreqOverride=1
DLA0_CORE:   Online=1 MinFreq=0 MaxFreq=1600000000 CurrentFreq=0
NV Power Mode: MAXN
"""


def _tools(nvpmodel: Optional[str], show: Optional[str]):  # type: ignore[no-untyped-def]
    def run(cmd: List[str]) -> Optional[str]:
        return nvpmodel if cmd[0] == "nvpmodel" else show
    return run


def test_clocks_below_max_parses_jetson_clocks_show() -> None:
    assert doctor_stream.clocks_below_max(ORIN_NANO_25W) == [("cpu1", 960000, 1344000), ("GPU", 306000000, 918000000),
                                                             ("EMC", 665600000, 3199000000)]
    assert doctor_stream.clocks_below_max(LOCKED) == []


def test_check_clocks_warns_below_maxn_and_max_clocks() -> None:
    check = doctor_stream.check_clocks(_tools("NV Power Mode: 25W\n1\n", ORIN_NANO_25W))
    assert check.status == WARN and "power mode 25W (not MAXN)" in check.detail
    assert "GPU 306 of 918 MHz" in check.detail and "cpu1 960 of 1344 MHz" in check.detail and "jetson_clocks" in check.hint
    assert doctor_stream.check_clocks(_tools("NV Power Mode: MAXN\n0\n", LOCKED)).status == OK
    assert doctor_stream.check_clocks(_tools("NV Power Mode: MAXN_SUPER\n2\n", LOCKED)).status == OK
    not_root = doctor_stream.check_clocks(_tools("NV Power Mode: MAXN\n0\n", None))
    assert not_root.status == WARN and "sudo" in not_root.detail


def test_check_clocks_off_a_jetson() -> None:
    assert doctor_stream.check_clocks(_tools(None, None)).status == NA


def test_h264_encoder_check() -> None:
    assert doctor_stream.check_h264_encoder(lambda name: True).detail.startswith("nvv4l2h264enc (Jetson hardware")
    soft = doctor_stream.check_h264_encoder(lambda name: name in ("x264enc", "rtph264pay"))
    assert soft.status == OK and soft.detail.startswith("x264enc")
    none = doctor_stream.check_h264_encoder(lambda name: False)
    assert none.status == MISSING and none.detail.startswith("none") and "gstreamer1.0-plugins-ugly" in none.hint


def test_video_codecs_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jetson = doctor_stream.check_video_codecs(lambda name: True, opencv_gstreamer=True)
    assert jetson.status == OK and jetson.detail == "decode nvv4l2decoder (GStreamer), encode nvv4l2h264enc (GStreamer): NVDEC/NVENC"
    monkeypatch.setenv(RELEASE_ENV, str(tmp_path / "absent"))
    desktop = doctor_stream.check_video_codecs(lambda name: False, opencv_gstreamer=False)
    assert desktop.status == OK and "decode OpenCV/FFmpeg (this OpenCV has no GStreamer, which nvv4l2decoder needs)" in desktop.detail
    (tmp_path / "release").write_text("# R35 (release), REVISION: 4.1\n")
    monkeypatch.setenv(RELEASE_ENV, str(tmp_path / "release"))
    jetson_without = doctor_stream.check_video_codecs(lambda name: name != "nvv4l2decoder", opencv_gstreamer=True)
    assert jetson_without.status == WARN and "no nvv4l2decoder in GStreamer" in jetson_without.detail
    assert "encode nvv4l2h264enc (GStreamer)" in jetson_without.detail and "JetPack" in jetson_without.hint


def test_sources_and_outputs_come_from_the_tables() -> None:
    sources, outputs = doctor_stream.check_sources(), doctor_stream.check_sinks()
    assert sources.status == OK and all(name in sources.detail for name in SOURCES)
    assert outputs.status == OK and all(name in outputs.detail for name in SINKS)
    table = {"a": SimpleNamespace(problem=None), "b": SimpleNamespace(problem=lambda: "no screen here (DISPLAY unset); or write a file")}
    assert doctor_stream.check_kinds("Outputs", table).detail == "ready: a; not here: b (no screen here (DISPLAY unset))"
    broken = doctor_stream.check_kinds("Outputs", {"b": table["b"]})
    assert broken.status == MISSING
    assert doctor_stream.STREAM_CHECKS[:3] == (doctor_stream.check_sources, doctor_stream.check_sinks, doctor_stream.check_video_codecs)
