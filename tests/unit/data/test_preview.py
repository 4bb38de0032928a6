"""Dataset preview: one picture of the first pairs, wider with --augment."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from edgeunet.data.preview import preview_dataset
from edgeunet.data.synth import make_dataset

pytest.importorskip("albumentations")


def test_preview_grid_grows_with_augmented_columns(tmp_path: Path) -> None:
    make_dataset(tmp_path / "d", count=2, size=48)
    values = [[0, 0], [255, 1]]
    assert preview_dataset(tmp_path / "d", values, 2, tmp_path / "p.png", count=5) == 2
    assert preview_dataset(tmp_path / "d", values, 2, tmp_path / "a.png", count=5, augment=True) == 2
    plain, augmented = cv2.imread(str(tmp_path / "p.png")), cv2.imread(str(tmp_path / "a.png"))
    assert augmented.shape[1] > plain.shape[1] and augmented.shape[0] == plain.shape[0]
