"""The calibration-set check run before `calibrate`: like the training data -> silent; noise or too few -> findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_DATA_STATS, load_onnx, read_metadata
from edgeunet.data.data_stats import compute_data_stats
from edgeunet.data.dataset import list_images
from edgeunet.data.synth import make_dataset
from edgeunet.export.calib_check import (
    MIN_CALIBRATION_IMAGES,
    CalibrationCheck,
    _activation_tensors,
    activation_ranges,
    check_calibration_set,
    compare_activations,
)
from tests.unit.tiny_graphs import threshold_onnx, tiny_spec


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Training-like images (two seeds of the synthetic cells) and uniform noise, 16 each at 32x32."""
    root = tmp_path_factory.mktemp("calib")
    train = list_images(make_dataset(root / "train", count=MIN_CALIBRATION_IMAGES, size=32, seed=0) / "images")
    calib = list_images(make_dataset(root / "calib", count=MIN_CALIBRATION_IMAGES, size=32, seed=1) / "images")
    (root / "noise").mkdir()
    rng = np.random.default_rng(0)
    noise: List[Path] = []
    for i in range(MIN_CALIBRATION_IMAGES):
        noise.append(root / "noise" / f"{i:03d}.png")
        cv2.imwrite(str(noise[-1]), rng.integers(0, 256, (32, 32), dtype=np.uint8))
    stats = compute_data_stats(train, tiny_spec())
    model_path = threshold_onnx(root / "m.onnx", extra={KEY_DATA_STATS: json.dumps(stats)})
    return {"train": train, "calib": calib, "noise": noise, "model": load_onnx(model_path),
            "metadata": read_metadata(load_onnx(model_path)), "bare": load_onnx(threshold_onnx(root / "bare.onnx"))}


def test_images_like_the_training_data_pass(sets: dict) -> None:
    check = check_calibration_set(sets["model"], sets["metadata"], tiny_spec(), sets["calib"], sets["train"])
    assert check.ok, check.findings
    record = check.to_dict()
    assert record["ok"] is True and record["images"] == MIN_CALIBRATION_IMAGES
    assert 0.5 <= record["activations"]["activation_ratio_median"] <= 2.0 and record["activations"]["tensors"] == 2
    check.raise_if_strict(True, Path("calib"))  # nothing to refuse


def test_noise_is_named_and_refused_under_strict(sets: dict) -> None:
    check = check_calibration_set(sets["model"], sets["metadata"], tiny_spec(), sets["noise"], sets["train"])
    assert not check.ok
    text = check.warning()
    assert text.startswith("calibration set differs from the training data: ") and "histogram distance" in text
    assert "\n" not in text
    check.raise_if_strict(False, Path("noise"))  # a warning only, without --strict-calibration
    with pytest.raises(EdgeUnetError, match="--strict-calibration: calibration set differs.*--data noise"):
        check.raise_if_strict(True, Path("noise"))


def test_too_few_images_and_unknown_references_are_said(sets: dict) -> None:
    """A model exported before data stats existed and no validation images: both comparisons skipped, saying why."""
    check = check_calibration_set(sets["bare"], read_metadata(sets["bare"]), tiny_spec(), sets["calib"][:3])
    assert check.findings == [f"only 3 image(s) (< {MIN_CALIBRATION_IMAGES})"]
    assert check.details["training_stats"].startswith("skipped: the model has no stored training statistics")
    assert check.details["activations"] == "skipped: no validation images known"


def test_quantized_activations_are_the_compute_layers_inputs(sets: dict) -> None:
    assert _activation_tensors(sets["model"]) == ["input", "r1"]  # weights (initializers) are not activations
    peaks = activation_ranges(sets["model"], tiny_spec(), sets["calib"][:2])
    assert set(peaks) == {"input", "r1"} and all(value > 0 for value in peaks.values())


def test_compare_activations_skips_silent_tensors() -> None:
    compared = compare_activations({"a": 2.0, "b": 4.0, "dead": 1.0}, {"a": 1.0, "b": 1.0, "dead": 0.0})
    assert compared == {"activation_ratio_median": 3.0, "tensors": 2, "activation_ratio_range": [2.0, 4.0]}
    assert compare_activations({"dead": 1.0}, {"dead": 0.0}) == {"activation_ratio_median": None, "tensors": 0}
    assert CalibrationCheck().ok and CalibrationCheck(findings=["x"]).to_dict()["ok"] is False
