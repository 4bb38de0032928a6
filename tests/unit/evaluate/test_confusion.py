"""The confusion-matrix picture: row-normalised, written atomically as a PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from edgeunet.evaluate.confusion import write_confusion_png  # noqa: E402


def test_png_is_written_for_empty_rows_too(tmp_path: Path) -> None:
    matrix = np.array([[5, 1, 0], [0, 0, 0], [2, 0, 7]])
    write_confusion_png(tmp_path / "c.png", matrix, ["a", "b", "c"], "title")
    assert cv2.imread(str(tmp_path / "c.png")) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]
