"""Prediction folders: masks (and overlays) by file stem, renamed into place only when every image was written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeunet.evaluate.outputs import prediction_folder


def _lut() -> np.ndarray:
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[1] = (0, 0, 255)
    return lut


def test_masks_and_overlays_are_written_by_stem(tmp_path: Path) -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    mask = np.eye(8, dtype=np.uint8)
    with prediction_folder(tmp_path / "pred", _lut()) as writer:
        assert writer is not None
        writer.write("a", image, mask)
    assert (tmp_path / "pred/masks/a.png").is_file() and (tmp_path / "pred/overlays/a.jpg").is_file()


def test_no_folder_asked_for_gives_none_and_a_failure_leaves_nothing(tmp_path: Path) -> None:
    with prediction_folder(None, _lut()) as writer:
        assert writer is None
    with pytest.raises(RuntimeError), prediction_folder(tmp_path / "half", _lut(), overlays=False) as writer:
        assert writer is not None
        writer.write("a", np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))
        raise RuntimeError("interrupted")
    assert not (tmp_path / "half").exists()
