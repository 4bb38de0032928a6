"""The decode/encode path: pipeline strings (pure) and the choice between NVDEC/NVENC and OpenCV/FFmpeg, from fake element lists."""

from __future__ import annotations

from typing import Callable, Set

import pytest

from edgeunet.stream import codecs
from edgeunet.stream.codecs import HW_DECODER, HW_ENCODER, OPENCV, SW_ENCODER

JETSON = {"filesrc", "qtdemux", "matroskademux", "avidemux", "parsebin", "rtspsrc", "rtph264depay", "rtph265depay", "h264parse",
          "h265parse", "nvv4l2decoder", "nvvidconv", "videoconvert", "appsink", "appsrc", "nvv4l2h264enc", "qtmux", "matroskamux",
          "filesink"}


def has(elements: Set[str]) -> Callable[[str], bool]:
    return lambda name: name in elements


def test_decode_pipeline_for_a_jetson_file() -> None:
    assert codecs.decode_pipeline("/v/a b.mp4", "h264", HW_DECODER) == (
        'filesrc location="/v/a b.mp4" ! qtdemux ! h264parse ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx ! '
        "videoconvert ! video/x-raw,format=BGR ! appsink max-buffers=2 sync=false")


def test_decode_pipeline_software_and_rtsp() -> None:
    soft = codecs.decode_pipeline("clip.mkv", "h264", "avdec_h264")
    assert soft.startswith('filesrc location="clip.mkv" ! matroskademux ! h264parse ! avdec_h264 ! videoconvert')
    live = codecs.decode_pipeline("rtsp://u:p@cam/s", "h265", HW_DECODER, live=True)
    assert live.startswith('rtspsrc location="rtsp://u:p@cam/s" latency=200 protocols=tcp ! rtph265depay ! h265parse ! nvv4l2decoder')
    assert live.endswith("appsink drop=true max-buffers=1 sync=false")
    assert " ! parsebin ! " in codecs.decode_pipeline("clip.ts", "h264", HW_DECODER)


def test_encode_pipelines() -> None:
    hw = codecs.encode_pipeline("/o/out.mp4", HW_ENCODER, 25.0)
    assert hw == ('appsrc ! videoconvert ! video/x-raw,format=BGRx ! nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! '
                  'nvv4l2h264enc insert-sps-pps=true iframeinterval=25 idrinterval=25 ! h264parse ! qtmux ! filesink location="/o/out.mp4"')
    sw = codecs.encode_pipeline('x"y.mkv', SW_ENCODER, 10.0)
    assert "x264enc speed-preset=ultrafast tune=zerolatency key-int-max=10" in sw and sw.endswith('matroskamux ! filesink location="x\\"y.mkv"')


def test_elements_of_leaves_out_caps() -> None:
    assert codecs.elements_of("appsrc ! video/x-raw,format=I420 ! x264enc key-int-max=5 ! qtmux") == ["appsrc", "x264enc", "qtmux"]


@pytest.mark.parametrize(("fourcc", "codec"), [("avc1", "h264"), ("H264", "h264"), ("hvc1", "h265"), ("mp4v", None), ("MJPG", None)])
def test_codec_of(fourcc: str, codec: str) -> None:
    assert codecs.codec_of(fourcc) == codec


def test_a_jetson_gets_nvdec_and_nvenc() -> None:
    decode = codecs.choose_decoder("a.mp4", "avc1", has(JETSON), True)
    assert decode.hardware and decode.describe() == "nvv4l2decoder (GStreamer)" and "nvv4l2decoder" in (decode.pipeline or "")
    assert codecs.choose_decoder("rtsp://cam/x", "", has(JETSON), True, live=True).hardware
    encode = codecs.choose_encoder("out.mp4", 30.0, has(JETSON), True)
    assert encode.hardware and encode.element == HW_ENCODER


@pytest.mark.parametrize(("elements", "gst", "reason"), [
    (JETSON - {"nvv4l2decoder"}, True, "no nvv4l2decoder in GStreamer"),
    (JETSON - {"nvvidconv"}, True, "no nvvidconv in GStreamer"),
    (JETSON - {"qtdemux"}, True, "no qtdemux in GStreamer"),
    (JETSON, False, "this OpenCV has no GStreamer, which nvv4l2decoder needs"),
])
def test_a_missing_element_falls_back_naming_it(elements: Set[str], gst: bool, reason: str) -> None:
    choice = codecs.choose_decoder("a.mp4", "avc1", has(elements), gst)
    assert not choice.hardware and choice.element == OPENCV and choice.reason == reason
    assert choice.describe() == f"OpenCV/FFmpeg ({reason})"


def test_what_has_no_hardware_path() -> None:
    assert codecs.choose_decoder("a.mp4", "mp4v", has(JETSON), True).reason == "codec mp4v has no nvv4l2decoder path"
    avi = codecs.choose_encoder("out.avi", 30.0, has(JETSON), True)
    assert not avi.hardware and avi.describe("OpenCV MJPG") == "OpenCV MJPG"
    assert codecs.choose_encoder("out.mp4", 30.0, has(JETSON - {"nvv4l2h264enc"}), True).reason == "no nvv4l2h264enc in GStreamer"


def test_this_machine(monkeypatch: pytest.MonkeyPatch, synth_video: object) -> None:
    """Without GStreamer in OpenCV (pip's wheels): OpenCV/FFmpeg, and the switch that turns the hardware path off is named."""
    monkeypatch.setattr(codecs, "opencv_has", lambda feature: False)
    assert codecs.machine_encoder("out.mp4", 30.0).reason == "this OpenCV has no GStreamer, which nvv4l2h264enc needs"
    assert codecs.machine_decoder(str(synth_video)).reason == "codec MJPG has no nvv4l2decoder path"
    monkeypatch.setattr(codecs, "opencv_has", lambda feature: True)
    monkeypatch.setenv(codecs.OFF_ENV, "1")
    assert codecs.machine_encoder("out.mp4", 30.0).reason == f"{codecs.OFF_ENV} is set"
    assert codecs.video_fourcc("/nonexistent.mp4") == ""


def test_the_hardware_element_is_named_before_its_helpers() -> None:
    software_only = JETSON - {"nvv4l2decoder", "nvvidconv", "nvv4l2h264enc"}
    assert codecs.choose_encoder("out.mp4", 30.0, has(software_only), True).reason == "no nvv4l2h264enc in GStreamer"
    assert codecs.choose_decoder("a.mp4", "avc1", has(software_only), True).reason == "no nvv4l2decoder in GStreamer"
