"""Training pictures: the error map's colours, one grid row per sample, curves and the animation on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from edgeunet.core.spec import IGNORE_LABEL  # noqa: E402
from edgeunet.train.plots import ERROR_FN_BGR, ERROR_FP_BGR, error_map, make_animation, plot_curves, prediction_grid  # noqa: E402


def test_error_map_marks_false_positives_misses_and_void() -> None:
    truth = np.array([[0, 1, 1, IGNORE_LABEL]], np.uint8)
    pred = np.array([[1, 0, 1, 1]], np.uint8)
    out = error_map(pred, truth)
    assert tuple(out[0, 0]) == ERROR_FP_BGR and tuple(out[0, 1]) == ERROR_FN_BGR
    assert tuple(out[0, 2]) == (200, 200, 200) and tuple(out[0, 3]) != ERROR_FP_BGR


def test_grid_has_a_row_per_sample_and_four_tiles(tmp_path: Path) -> None:
    lut = np.zeros((256, 1, 3), np.uint8)
    row = {"image": np.zeros((20, 30), np.uint8), "truth": np.zeros((20, 30), np.uint8), "pred": np.ones((20, 30), np.uint8)}
    one, two = prediction_grid([row], lut), prediction_grid([row, row], lut, title="epoch 1")
    assert two.shape[1] == one.shape[1] and two.shape[0] > 2 * one.shape[0] - 1


def test_curves_and_animation_are_written(tmp_path: Path) -> None:
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "train_miou": 0.1 * e, "val_miou": 0.1 * e,
                "train_dice": 0.1 * e, "val_dice": 0.1 * e} for e in (1, 2, 3)]
    plot_curves(history, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
    import cv2

    frames = []
    for i in range(2):
        frames.append(tmp_path / f"f{i}.png")
        cv2.imwrite(str(frames[-1]), np.full((16, 16, 3), 80 * i, np.uint8))
    make_animation(frames, tmp_path / "learning.gif")
    assert (tmp_path / "learning.gif").stat().st_size > 0
