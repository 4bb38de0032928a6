"""evaluate/evaluate.py: per-sequence mIoU beside the overall figures when the file names are frames of sequences."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edgeunet.core.spec import ModelSpec
from edgeunet.data.dataset import find_samples
from edgeunet.evaluate.evaluate import evaluate, group_rows
from tests.unit.data.test_splits import write_sequences


class _ThresholdSegmenter:
    """Predicts 'bright' pixels, except on one sequence where it predicts nothing: a scene the model fails on."""

    def __init__(self, blind: str) -> None:
        self.spec = ModelSpec(in_channels=1, num_classes=2, class_names=["background", "bright"], input_size=[32, 32],
                              mask_values=[[0, 0], [255, 1]])
        self.backend = SimpleNamespace(name="fake", precision="fp32")
        self.blind = blind
        self.current = ""

    def predict(self, image: np.ndarray) -> np.ndarray:
        return np.zeros(image.shape[:2], np.uint8) if self.current == self.blind else (image > 127).astype(np.uint8)


def _evaluate(data: Path, seg: _ThresholdSegmenter) -> Any:
    samples = find_samples(data)
    real_predict = seg.predict

    def predict(image: np.ndarray) -> np.ndarray:
        seg.current = samples[predict.calls].stem.split("_")[0]  # type: ignore[attr-defined]
        predict.calls += 1  # type: ignore[attr-defined]
        return real_predict(image)

    predict.calls = 0  # type: ignore[attr-defined]
    seg.predict = predict  # type: ignore[method-assign]
    return evaluate("fake.onnx", data, segmenter=seg, samples=samples)  # type: ignore[arg-type]


def test_each_sequence_gets_its_own_miou_weakest_first(tmp_path: Path) -> None:
    data = write_sequences(tmp_path, {"road": 3, "tunnel": 2}, size=32)
    result = _evaluate(data, _ThresholdSegmenter(blind="tunnel"))
    assert result["groups"]["road"]["images"] == 3 and result["groups"]["road"]["miou"] == 1.0
    assert result["groups"]["tunnel"]["miou"] < 0.5 < result["miou"] < 1.0
    rows = group_rows(result)
    assert [row["sequence"] for row in rows] == ["tunnel", "road"] and rows[1]["mIoU"] == "1.0000"


def test_no_sequences_no_group_report(tmp_path: Path) -> None:
    data = write_sequences(tmp_path, {"img": 3}, size=32)
    result = _evaluate(data, _ThresholdSegmenter(blind="none"))
    assert "groups" not in result and group_rows(result) == []
