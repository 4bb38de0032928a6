"""stream/pipeline.py: the threaded stages between a source and the sinks, with a scripted source and a fake model.

No video decoding and no model file: what is checked is the pipeline's own behaviour (order, counters, stop reasons,
a failing output, a lost source, an error in a stage), each run a few frames of 24x32 pixels.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.stream.channel import Channel, Closed
from edgeunet.stream.options import StreamOptions
from edgeunet.stream.pipeline import FrameResult, Pipeline, warm_up
from edgeunet.stream.sink_base import Sink, SinkSpec
from edgeunet.stream.source_base import CORRUPT, END, LOST, OK, SourceSpec
from edgeunet.stream.stats import END_TO_END, LatencyRecorder


class Model:
    """logit = -pixel (dark is foreground); `fail_at` makes the n-th call raise like a broken model."""

    name, precision, device = "fake", "fp32", "cpu"

    def __init__(self, fail_at: Optional[int] = None) -> None:
        self.spec = ModelSpec(in_channels=1, num_classes=2, input_size=[16, 16])
        self.calls = 0
        self.fail_at = fail_at

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("model exploded")
        return -batch[:, :1]


class Script:
    """A source that plays a list of read statuses, then END; `reopen_ok` says whether a lost source comes back."""

    def __init__(self, statuses: Sequence[str], live: bool = False, reopen_ok: bool = False, rewinds: int = 0) -> None:
        self.spec = SourceSpec("file", "script", text="script.avi", live=live)
        self.live, self.fps, self.size = live, 30.0, (32, 24)
        self.description, self.codec, self.notes = "a script", "none", []
        self.statuses = list(statuses)
        self.played = 0
        self.reopen_ok, self.reopens, self.rewinds = reopen_ok, 0, rewinds

    def read(self) -> Tuple[str, Optional[np.ndarray], float]:
        import time

        if self.played >= len(self.statuses):
            return END, None, time.perf_counter()
        status = self.statuses[self.played]
        self.played += 1
        frame = np.full((24, 32, 3), self.played * 10 % 256, np.uint8) if status == OK else None
        return status, frame, time.perf_counter()

    def reopen(self) -> None:
        self.reopens += 1
        if not self.reopen_ok:
            raise EdgeUnetError("camera still gone")

    def rewind(self) -> bool:
        if self.rewinds <= 0:
            return False
        self.rewinds -= 1
        self.played = 0
        return True

    def close(self) -> None:
        pass


class Keep(Sink):
    """Records the frame indices and first pixel it was given; `fail_at` raises on that write."""

    def __init__(self, name: str = "keep", fail_at: Optional[int] = None) -> None:
        super().__init__(SinkSpec("null", text=name))
        self.where = f"/nowhere/{name}"
        self.indices: List[int] = []
        self.fail_at = fail_at
        self.closed = 0

    def write(self, frame: np.ndarray, index: int) -> None:
        if self.fail_at is not None and len(self.indices) >= self.fail_at:
            raise OSError("disk\nfull")
        self.indices.append(index)
        super().write(frame, index)

    def close(self) -> None:
        self.closed += 1


def run(source: Script, sinks: List[Sink], model: Any = None, results: Optional[Channel] = None, **options: Any) -> Tuple[Pipeline, List[str]]:
    log: List[str] = []
    opts = StreamOptions(**{"hud": False, "warmup": 0, "reconnect_delay": 0.01, "pin_stages": False, **options}).check()
    pipeline = Pipeline(model or Model(), source, sinks, opts, LatencyRecorder(), log.append, results)  # type: ignore[arg-type]
    pipeline.start()
    if results is None:
        pipeline.join()
    return pipeline, log


def test_every_frame_of_a_file_in_order() -> None:
    sink = Keep()
    pipeline, _ = run(Script([OK] * 5), [sink])
    assert sink.indices == [0, 1, 2, 3, 4] and pipeline.ended == "end of stream" and pipeline.error is None
    rec = pipeline.rec
    assert rec.frames == 5 and rec.counters["captured"] == 5 and rec.counters["dropped"] == 0
    assert {"capture", "preprocess", "inference", "postprocess", "overlay", "sink", END_TO_END} <= set(rec.samples)
    assert pipeline.capture_done and not pipeline.dropping


def test_corrupt_frames_are_counted_and_skipped() -> None:
    sink = Keep()
    pipeline, _ = run(Script([OK, CORRUPT, CORRUPT, OK]), [sink])
    assert sink.indices == [0, 1] and pipeline.rec.counters["corrupt"] == 2


def test_max_frames_and_loop() -> None:
    sink = Keep()
    pipeline, _ = run(Script([OK] * 3, rewinds=5), [sink], loop=True, max_frames=7)
    assert sink.indices == list(range(7)) and pipeline.ended == "max frames" and pipeline.rec.counters["loops"] == 2


def test_a_failing_output_is_dropped_and_the_others_go_on() -> None:
    bad, good = Keep("bad.mp4", fail_at=2), Keep("good")
    pipeline, log = run(Script([OK] * 4), [bad, good])
    assert good.indices == [0, 1, 2, 3] and bad.indices == [0, 1] and bad.closed == 1
    assert pipeline.failures == [{"output": "bad.mp4", "error": "disk full", "frames": 2}]  # one line, whitespace folded
    assert log == ["output bad.mp4 failed after 2 frame(s): disk full; the 2 frame(s) written to /nowhere/bad.mp4 are kept"]
    assert pipeline.ended == "end of stream"


def test_when_every_output_failed_the_run_stops() -> None:
    pipeline, _ = run(Script([OK] * 200), [Keep("only", fail_at=1)])
    assert pipeline.ended == "every output failed" and pipeline.error is None


def test_a_lost_source_is_reconnected_or_given_up() -> None:
    back = Script([OK, LOST, OK], reopen_ok=True)
    pipeline, log = run(back, [Keep()])
    assert pipeline.rec.counters["reconnects"] == 1 and not pipeline.lost and pipeline.ended == "end of stream"
    assert log == ["source script.avi lost; reconnecting (1/3) in 0.0 s", "source script.avi reconnected"]
    gone = Script([OK, LOST])
    pipeline, log = run(gone, [Keep()], reconnect=2)
    assert pipeline.lost and gone.reopens == 2
    assert pipeline.ended == "source lost (no frames after 2 reconnect attempt(s))" and len(log) == 2


def test_an_error_in_a_stage_ends_the_run_and_is_kept() -> None:
    sink = Keep()
    pipeline, _ = run(Script([OK] * 20), [sink], model=Model(fail_at=3))
    assert isinstance(pipeline.error, RuntimeError) and pipeline.ended == "error: model exploded"
    assert len(sink.indices) <= 2


def _results(model: Any = None, capacity: int = 2, **options: Any) -> List[FrameResult]:
    """Three frames through the pipeline to a results consumer, as the Python API iterates them."""
    results = Channel("results", capacity)
    pipeline, _ = run(Script([OK] * 3), [], model=model, results=results, **options)
    got: List[FrameResult] = []
    while True:
        try:
            got.append(results.get())
        except Closed:
            break
    pipeline.join()
    assert pipeline.error is None
    return got


def test_results_reach_the_consumer() -> None:
    got = _results()
    assert [r.index for r in got] == [0, 1, 2]
    first = got[0]
    assert first.mask.shape == (24, 32) and first.mask.dtype == np.uint8 and first.view.shape == (24, 32, 3)
    assert int(first.frame[0, 0, 0]) == 10 and END_TO_END in first.timings


def test_stop_from_another_thread_keeps_the_first_reason() -> None:
    live = Script([OK] * 100000, live=True)
    sink = Keep()
    log: List[str] = []
    opts = StreamOptions(hud=True, warmup=0, pin_stages=False, stage_nice=0).check()
    pipeline = Pipeline(Model(), live, [sink], opts, LatencyRecorder(), log.append)  # type: ignore[arg-type]
    assert pipeline.dropping
    pipeline.start()
    threading.Timer(0.3, pipeline.stop, args=("stopped (q)",)).start()
    pipeline.join()
    pipeline.stop("later")
    assert pipeline.ended == "stopped (q)" and sink.indices
    assert "capture_to_display" in pipeline.rec.samples  # live: what the viewer waits for is measured


def test_warm_up() -> None:
    model = Model()
    warm_up(model, 0)  # type: ignore[arg-type]
    assert model.calls == 0
    warm_up(model, 3)  # type: ignore[arg-type]
    assert model.calls == 3
    warm_up(model, 1, (40, 30), StreamOptions(overlay="contour"))  # type: ignore[arg-type]  # the drawing path too
    assert model.calls == 4
    with pytest.raises(RuntimeError, match="exploded"):
        warm_up(Model(fail_at=1), 1)  # type: ignore[arg-type]


class EndToEnd:
    """An end-to-end model exported with --overlay: mask and blended frame come out of the graph (grey 123 here)."""

    name, precision, device = "fake-e2e", "fp32", "cpu"

    def __init__(self, alpha: float = 0.45) -> None:
        self.spec = ModelSpec(in_channels=3, num_classes=2, input_size=[16, 16], io="end-to-end", frame_size=[24, 32], overlay_alpha=alpha)
        self.masks = self.overlays = 0

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.masks += 1
        return np.ones((1, 24, 32), np.uint8)

    def run_with_overlay(self, batch: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        self.overlays += 1
        height, width = self.spec.frame_size
        return np.ones((1, height, width), np.uint8), np.full((height, width, 3), 123, np.uint8)


def _views(model: Any, **options: Any) -> List[FrameResult]:
    got = _results(model, capacity=8, **options)
    assert len(got) == 3
    return got


def test_an_end_to_end_models_overlay_is_the_picture_and_the_cpu_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeunet.stream.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "render", lambda *a, **k: pytest.fail("the overlay was drawn again on the CPU"))
    model = EndToEnd()
    got = _views(model, overlay="alpha", alpha=0.45)
    assert model.overlays == 3 and model.masks == 0  # one inference per frame gave both outputs
    assert all(r.view.shape == (24, 32, 3) and int(r.view[0, 0, 0]) == 123 and r.mask.shape == (24, 32) for r in got)


@pytest.mark.parametrize("options", [{"overlay": "alpha", "alpha": 0.7}, {"overlay": "mask"}, {"overlay": "contour"}])
def test_another_alpha_or_mode_is_drawn_on_the_cpu_from_the_mask(options: Any) -> None:
    model = EndToEnd()
    got = _views(model, **options)
    assert model.overlays == 0 and model.masks == 3
    assert all(int(r.view[0, 0, 0]) != 123 for r in got)


def test_a_frame_of_another_size_gets_a_cpu_overlay_at_its_own_size() -> None:
    """The graph's overlay has the model's frame size; a camera frame of another size is drawn at its own."""
    model = EndToEnd()
    model.spec.frame_size = [12, 16]
    got = _views(model, overlay="alpha", alpha=0.45)
    assert model.overlays == 3 and all(r.view.shape == (24, 32, 3) and int(r.view[0, 0, 0]) != 123 for r in got)
