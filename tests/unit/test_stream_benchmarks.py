"""The pure parts of benchmarks/stream_pipeline.py, stream_realtime.py and pixel_budget.py (the runs themselves are benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import pixel_budget  # noqa: E402
import stream_pipeline  # noqa: E402
import stream_realtime  # noqa: E402


def test_realtime_configs_and_medians() -> None:
    assert stream_realtime.parse_config("2:5:0") == (2, 5, False)
    assert stream_realtime.parse_config("auto:auto") == (None, None, None)
    rows = [{"resolution": "576p", "threads": 1, "stage_nice": 5, "pin_stages": True,
             "capture_to_display": {"p50": p, "p99_over_p50": r}} for p, r in ((50.0, 1.2), (60.0, 1.4), (55.0, 1.3))]
    (line,) = stream_realtime.summary(rows)
    assert "median c2d p50 55.0 ms" in line and "median p99/p50 1.30" in line


def test_upscaled_video_is_written_once(tmp_path: Path) -> None:
    source = tmp_path / "src.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for i in range(5):
        writer.write(np.full((24, 32, 3), i * 40, np.uint8))
    writer.release()
    out = stream_pipeline.upscaled(source, (64, 48), 3, tmp_path / "cache")
    assert out == stream_pipeline.upscaled(source, (64, 48), 3, tmp_path / "cache")
    frames = stream_pipeline.read_frames(out, 10)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)


def test_markdown_names_the_machine_and_every_stage() -> None:
    stats = {"p50": 1.0, "p95": 2.0}
    row = {"model": "m.onnx", "upsample": "fast", "resolution": "1080p", "model_fps": 30.0,
           "pixel_cpu_ms": {k: stats for k in ("preprocess", "postprocess", "overlay", "pixel_total")},
           "runs": {"null": {"e2e_fps": 28.0, "ratio": 0.93, "stages_p50": {"decode": 2.0, "inference": 30.0}}}}
    text = stream_pipeline.markdown({"machine": {"cpu": "Xeon", "isa": "AMX", "cpus": "2"}, "load_avg_before": ["1"],
                                     "load_avg_after": ["2"], "threads": 1, "pin": True, "video": "v.avi", "rows": [row]})
    assert "Xeon" in text and "AMX" in text and "| 0.93 |" in text and "encode" in text


def test_synthesized_logits_have_the_model_grid_and_class_count() -> None:
    mask = next(iter(sorted(pixel_budget.CAMVID.glob("*.png"))), None)
    if mask is None:
        return  # the shared CamVid data is not on this machine
    assert pixel_budget.synth_logits(mask, 11, 0).shape == (1, 11, 176, 240)
    assert pixel_budget.synth_logits(mask, 2, 0).shape == (1, 1, 176, 240)
