"""The capture objects: the hardware decoder's fallback, a live source that only yields garbage, image folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import cv2
import numpy as np
import pytest

from edgeunet.stream.capture import HardwareOpener, VideoCaptureSource
from edgeunet.stream.codecs import HW_DECODER, CodecChoice, opencv_has
from edgeunet.stream.source_base import CORRUPT, LOST, OK, Source, SourceSpec
from edgeunet.stream.sources import open_source, parse_source


def test_a_decoder_that_does_not_start_falls_back_with_the_reason(synth_video: Path) -> None:
    """NVDEC chosen but its pipeline refused (here: no GStreamer in this OpenCV): FFmpeg decodes, the header says why."""
    if opencv_has("GStreamer"):
        pytest.skip("this OpenCV has GStreamer: the stand-in pipeline could start")
    opener = HardwareOpener(CodecChoice(HW_DECODER, "filesrc location=x ! nvv4l2decoder ! appsink"),
                            lambda: cv2.VideoCapture(str(synth_video)))
    source = VideoCaptureSource(parse_source(str(synth_video)), opener, "a video file", "", None).open()
    assert isinstance(source, Source) and source.read()[0] == OK
    assert source.codec == "OpenCV/FFmpeg (the nvv4l2decoder pipeline did not start)"
    source.reopen()  # a reconnect keeps the decision: no second try of a pipeline that failed
    assert opener.choice.pipeline is None and source.read()[0] == OK
    source.close()


class _Garbage:
    """A capture that grabs but never decodes (a camera sending broken frames)."""

    def __init__(self) -> None:
        self.released: List[bool] = []

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: 25.0, cv2.CAP_PROP_FRAME_WIDTH: 8, cv2.CAP_PROP_FRAME_HEIGHT: 6}.get(prop, 0.0)

    def getBackendName(self) -> str:  # noqa: N802
        return "FAKE"

    def grab(self) -> bool:
        return True

    def retrieve(self) -> Any:
        return False, None

    def release(self) -> None:
        self.released.append(True)


def test_a_live_source_of_garbage_is_lost_after_a_run_of_corrupt_frames() -> None:
    spec = SourceSpec("camera", "0", {}, "0", live=True)
    source = VideoCaptureSource(spec, _Garbage, "camera 0", "", None).open()
    assert source.codec == "OpenCV FAKE" and source.size == (8, 6) and source.fps == 25.0
    statuses = [source.read()[0] for _ in range(30)]
    assert statuses[:-1] == [CORRUPT] * 29 and statuses[-1] == LOST
    assert not source.rewind()
    source.close()


def test_image_folder_codec_and_size(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((10, 12, 3), np.uint8))
    opened = open_source(parse_source(str(tmp_path)))
    assert opened.codec == "OpenCV imread" and opened.size == (12, 10)
