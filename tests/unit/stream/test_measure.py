"""bench's end-to-end figure: an open backend through the whole stream pipeline, left open for bench to close."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.synth import make_video
from edgeunet.stream.measure import measure_pipeline


class ThresholdBackend:
    """A Backend without a model file: logit = -preprocessed pixel (dark cells are foreground); counts its calls."""

    name, precision, device = "fake", "fp32", "cpu"

    def __init__(self) -> None:
        self.spec = ModelSpec(in_channels=1, num_classes=2, input_size=[32, 32])
        self.batches: List[tuple] = []
        self.closed = 0

    def run(self, batch: np.ndarray) -> np.ndarray:
        assert not self.closed, "run after close"
        self.batches.append(batch.shape)
        return -batch[:, :1]

    def close(self) -> None:
        self.closed += 1


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("measure") / "cells.avi", frames=12, width=64, height=48, fps=30.0)


def test_measures_fps_over_the_frames_asked_and_leaves_the_backend_open(video: Path) -> None:
    backend = ThresholdBackend()
    report = measure_pipeline(backend, video, max_frames=5)  # type: ignore[arg-type]
    assert report["frames"] == 5 and report["fps"] > 0 and report["ended"] == "max frames"
    assert report["backend"] == "fake" and report["precision"] == "fp32" and report["error"] is None
    assert [o["kind"] for o in report["outputs"]] == ["null"] and report["outputs"][0]["frames"] == 5
    assert backend.closed == 0  # bench owns the backend: it measures the next variant with it or closes it
    assert all(shape[1:] == (1, 32, 32) for shape in backend.batches)


def test_whole_video_when_no_frame_limit(video: Path) -> None:
    report = measure_pipeline(ThresholdBackend(), str(video), overlay="contour")  # type: ignore[arg-type]
    assert report["frames"] == 12 and report["ended"] == "end of stream" and report["options"]["overlay"] == "contour"


def test_a_missing_video_is_one_line_and_the_backend_stays_open(tmp_path: Path) -> None:
    backend = ThresholdBackend()
    with pytest.raises(EdgeUnetError) as caught:
        measure_pipeline(backend, tmp_path / "missing.avi", max_frames=5)  # type: ignore[arg-type]
    assert "missing.avi" in str(caught.value) and "\n" not in str(caught.value)
    assert backend.closed == 0
