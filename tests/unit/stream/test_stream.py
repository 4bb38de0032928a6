"""stream/stream.py: the `Stream` API over a synthetic video, with a hand-built ONNX model or a fake in-memory one.

Live sources, web:// and rtsp:// are in tests/integration/test_stream_*.py; here: iteration, run(), the report,
who closes what, and the one-line refusals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.synth import make_video
from edgeunet.stream.sink_base import Sink, SinkSpec
from edgeunet.stream.stream import SCHEMA, Stream, StreamOptions
from tests.unit.tiny_graphs import threshold_onnx

FAST = {"hud": False, "warmup": 0, "pin_stages": False}


class Model:
    """An open backend (not a file): logit = -pixel; counts closes, `fail_at` makes that call raise."""

    name, precision, device = "fake", "fp32", "cpu"

    def __init__(self, fail_at: Optional[int] = None) -> None:
        self.spec = ModelSpec(in_channels=1, num_classes=2, input_size=[16, 16])
        self.calls, self.closed, self.fail_at = 0, 0, fail_at

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("model exploded")
        return -batch[:, :1]

    def close(self) -> None:
        self.closed += 1


class BadClose(Sink):
    def __init__(self) -> None:
        super().__init__(SinkSpec("null", text="stuck.mp4"))

    def close(self) -> None:
        raise OSError("rename failed")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("stream-api") / "cells.avi", frames=6, width=48, height=32, fps=30.0)


def test_iterate_with_an_onnx_model(video: Path, tmp_path: Path) -> None:
    model = threshold_onnx(tmp_path / "m.onnx")
    with Stream(model, video, ["null"], device="cpu", **FAST) as stream:
        results = list(stream)
        report = stream.report()
    assert [r.index for r in results] == list(range(6))
    assert results[0].mask.shape == (32, 48) and results[0].view.shape == (32, 48, 3) and results[0].timings["end_to_end"] > 0
    assert report["schema"] == SCHEMA and report["frames"] == 6 and report["backend"] == "onnxruntime"
    assert report["ended"] == "end of stream" and report["error"] is None and not report["source_lost"] and not report["live"]
    assert report["outputs"] == [{"output": "null", "kind": "null", "where": "", "frames": 6, "status": "ok", "error": None}]
    assert report["model"] == str(model) and report["options"]["hud"] is False and set(report["queues"]) >= {"capture", "overlay"}
    assert stream.backend.closed  # a model given by path is the Stream's to close


def test_run_writes_images_and_keeps_a_given_backend_open(video: Path, tmp_path: Path) -> None:
    model = Model()
    stream = Stream(model, str(video), [str(tmp_path / "frames")], StreamOptions(max_frames=3), **FAST)  # type: ignore[arg-type]
    report = stream.run()
    stream.close()
    stream.close()  # twice is fine
    assert report["frames"] == 3 and report["ended"] == "max frames" and report["model"] == "fake"
    assert report["outputs"][0]["kind"] == "images" and len(list((tmp_path / "frames").iterdir())) == 3
    assert model.closed == 0  # the caller's backend stays open for the caller
    with pytest.raises(EdgeUnetError, match="^a Stream runs once; make a new Stream to run again$"):
        stream.run()


def test_stopping_the_iteration_early(tmp_path: Path) -> None:
    # 40 frames: more than the queues between capture and the consumer hold, so the source cannot end first
    video = make_video(tmp_path / "long.avi", frames=40, width=32, height=24, fps=30.0)
    with Stream(Model(), video, [], **FAST) as stream:  # type: ignore[arg-type]
        for result in stream:
            if result.index == 1:
                break
    assert stream.ended == "stopped by the consumer" and stream.report()["frames"] < 40


def test_errors_raise_or_are_kept(video: Path) -> None:
    with Stream(Model(fail_at=2), video, [], **FAST) as stream:  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="model exploded"):
            list(stream)
    with Stream(Model(fail_at=2), video, [], **FAST) as stream:  # type: ignore[arg-type]
        report = stream.run(raise_errors=False)
    assert isinstance(stream.error, RuntimeError) and report["error"] == "model exploded"


def test_an_output_that_cannot_be_finalised_is_reported_failed(video: Path) -> None:
    log: List[str] = []
    with Stream(Model(), video, [BadClose(), "null"], log=log.append, **FAST) as stream:  # type: ignore[arg-type]
        report = stream.run()
    assert [o["status"] for o in report["outputs"]] == ["failed", "ok"] and report["outputs"][0]["error"] == "rename failed"
    assert "output stuck.mp4 could not be finalised: rename failed" in log


def test_before_a_run(video: Path) -> None:
    with Stream(Model(), video, [], max_frames=2, **FAST) as stream:  # type: ignore[arg-type]
        assert stream.options.max_frames == 2 and stream.ended is None and stream.error is None
        report = stream.report()
        assert report["ended"] is None and report["flicker"] == {} and report["queues"] == {} and report["capture_to_display"] == {}
        stats = stream.live_stats()
        assert stats["fps"] == 0 and stats["flicker_last_second"] is None and all(s == {"count": 0} for s in stats["stages"].values())
        assert stream.codecs()["encode"] == {} and isinstance(stream.codecs()["decode"], str)
        stream.stop()  # nothing running: nothing to do


def test_refusals_close_what_was_opened(video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.stream import stream as module

    opened: List[Any] = []
    monkeypatch.setattr(module, "load_backend", lambda *a, **k: opened.append(Model()) or opened[-1])
    with pytest.raises(EdgeUnetError, match="missing.avi"):
        Stream(tmp_path / "m.onnx", tmp_path / "missing.avi", [])
    assert opened[-1].closed == 1  # the model opened for this Stream is released when the source fails
    with pytest.raises(EdgeUnetError, match="^--fp16 runs a .pt checkpoint in half precision"):
        Stream(tmp_path / "m.onnx", video, [], half=True)
    with pytest.raises(EdgeUnetError, match="--alpha"):
        Stream(Model(), video, [], alpha=2.0)  # type: ignore[arg-type]
