"""Video outputs: a whole file or none, and the encoder's fallback when NVENC's pipeline does not start."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeunet.stream import codecs, video_sink
from edgeunet.stream.codecs import HW_ENCODER, CodecChoice
from edgeunet.stream.sinks import parse_sink
from edgeunet.stream.video_sink import VideoFileSink


def _frames(n: int, w: int = 96, h: int = 64) -> list:
    return [np.full((h, w, 3), (i * 20) % 256, np.uint8) for i in range(n)]


def _count(path: Path) -> tuple:
    cap = cv2.VideoCapture(str(path))
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            return n, shape
        n, shape = n + 1, frame.shape


@pytest.mark.parametrize("name", ["out.mp4", "out.avi"])
def test_video_appears_only_when_complete(tmp_path: Path, name: str) -> None:
    target = tmp_path / "sub" / name
    sink = VideoFileSink(parse_sink(str(target)), fps=10).open()
    for i, frame in enumerate(_frames(8)):
        sink.write(frame, i)
    sink.write(np.zeros((32, 48, 3), np.uint8), 8)  # another size (a camera that came back at 640x480): resized, stream stays valid
    assert not target.exists()  # still being written under a hidden temporary name
    sink.close()
    assert _count(target) == (9, (64, 96, 3))
    assert not list(target.parent.glob(".*partial*"))


def test_video_sink_without_frames_leaves_nothing(tmp_path: Path) -> None:
    sink = VideoFileSink(parse_sink(str(tmp_path / "empty.mp4")), fps=10).open()
    sink.close()
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_that_does_not_start_falls_back_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NVENC chosen but its pipeline refused (here: no GStreamer in this OpenCV): OpenCV writes the file, the reason is kept."""
    monkeypatch.setattr(video_sink, "machine_encoder", lambda path, fps: CodecChoice(HW_ENCODER, "appsrc ! nvv4l2h264enc ! fakesink"))
    if codecs.opencv_has("GStreamer"):
        pytest.skip("this OpenCV has GStreamer: the stand-in pipeline could start")
    sink = VideoFileSink(parse_sink(str(tmp_path / "out.mp4")), fps=10).open()
    sink.write(_frames(1)[0], 0)
    sink.close()
    assert sink.codec == "OpenCV mp4v (the nvv4l2h264enc pipeline did not start)" and (tmp_path / "out.mp4").is_file()
