"""`--upsample fast|logits` on evaluate and infer: the default fast path scores and writes what the reference does."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import run_cli


def test_evaluate_and_infer_agree_across_upsample_paths(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    scores, masks = {}, {}
    images = sorted((synth_data / "images").iterdir())[:3]
    for mode in ("fast", "logits"):
        out = tmp_path / f"{mode}.json"
        proc = run_cli("evaluate", tiny_onnx, "--data", synth_data, "--json", out, "--upsample", mode, "--threads", "1")
        assert proc.returncode == 0, proc.stderr
        scores[mode] = json.loads(out.read_text())
        proc = run_cli("infer", tiny_onnx, *images, "--out", tmp_path / mode, "--upsample", mode, "--threads", "1")
        assert proc.returncode == 0, proc.stderr
        masks[mode] = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((tmp_path / mode / "masks").glob("*.png"))]
    assert abs(scores["fast"]["miou"] - scores["logits"]["miou"]) < 1e-6
    assert len(masks["fast"]) == 3 and all(np.array_equal(a, b) for a, b in zip(masks["fast"], masks["logits"]))
