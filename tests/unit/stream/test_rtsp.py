"""rtsp:// as an output: the URI grammar, the encoder choice, the pipeline text and the one-line error without GStreamer.

The server itself (a real client reading frames back, the password) is tested end to end in
tests/integration/test_stream_rtsp.py, which skips where GStreamer's RTSP server is not installed.
"""

from __future__ import annotations

import sys

import pytest

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.stream.rtsp import RtspSink, choose_encoder, launch_line, load_gstreamer
from edgeunet.stream.sinks import make_sink, parse_sink
from edgeunet.stream.sources import parse_source


@pytest.mark.parametrize(
    ("text", "host", "port", "path"),
    [
        ("rtsp://0.0.0.0:8554/edgeunet", "0.0.0.0", 8554, "/edgeunet"),
        ("rtsp://", "127.0.0.1", 8554, "/edgeunet"),
        ("rtsp://127.0.0.1:9554", "127.0.0.1", 9554, "/edgeunet"),
        ("rtsp://10.0.0.2:8555/cams/front/", "10.0.0.2", 8555, "/cams/front"),
        ("RTSP://[::1]:8556/x", "::1", 8556, "/x"),
    ],
)
def test_parse_rtsp_output(text: str, host: str, port: int, path: str) -> None:
    spec = parse_sink(text)
    assert (spec.kind, spec.host, spec.port, spec.location) == ("rtsp", host, port, path)
    assert isinstance(make_sink(spec, 10.0), RtspSink)  # nothing is imported or bound before open()


def test_the_same_uri_as_a_source_is_a_camera_to_read() -> None:
    """SOURCE rtsp://... reads (OpenCV/FFmpeg); only -o rtsp://... serves."""
    source = parse_source("rtsp://127.0.0.1:8554/edgeunet")
    assert source.kind == "rtsp" and source.live


def test_no_password_in_an_rtsp_output() -> None:
    with pytest.raises(EdgeUnetError, match="--token") as info:
        parse_sink("rtsp://edgeunet:hunter22@0.0.0.0:8554/x")
    assert "hunter22" not in str(info.value)


def test_encoder_choice_prefers_the_jetson_hardware_encoder() -> None:
    assert choose_encoder(lambda name: True) == "nvv4l2h264enc"
    assert choose_encoder(lambda name: name == "x264enc") == "x264enc"
    assert choose_encoder(lambda name: False) is None


def test_launch_lines() -> None:
    soft = launch_line("x264enc", 10.0, 768, 576)
    assert "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10" in soft
    assert "width=768,height=576,framerate=10000/1000" in soft and "rtph264pay name=pay0" in soft
    jetson = launch_line("nvv4l2h264enc", 29.97)
    assert "nvv4l2h264enc" in jetson and "x264enc" not in jetson and "caps=" not in jetson and "iframeinterval=30" in jetson


def test_without_gi_a_one_line_error_names_the_install_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gi", None)  # import gi -> ImportError, as on a machine without PyGObject
    with pytest.raises(MissingDependencyError) as info:
        load_gstreamer()
    message = str(info.value)
    assert "\n" not in message and "apt-get install" in message and "gir1.2-gst-rtsp-server-1.0" in message
    assert "pip install 'edgeunet[rtsp]'" in message and "make setup-rtsp" in message
    with pytest.raises(MissingDependencyError):
        make_sink("rtsp://127.0.0.1:0/x", 10.0).open()
