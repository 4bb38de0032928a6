"""Mask stability: the share of pixels that change class between consecutive frames, per second."""

from __future__ import annotations

import numpy as np
import pytest

from edgeunet.stream.stability import MaskStability


def test_flicker_per_second() -> None:
    s = MaskStability()
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[0, :5] = 1  # 5 % of the pixels
    assert s.add(a, when=100.1) is None  # nothing to compare with yet
    assert s.add(b, when=100.2) == pytest.approx(5.0)
    assert s.add(b, when=100.3) == pytest.approx(0.0)
    assert s.add(a, when=101.1) == pytest.approx(5.0)  # a new second closes the first (mean 2.5 %)
    assert s.last_second() == pytest.approx(2.5)
    d = s.to_dict()
    assert d["frames_compared"] == 3 and d["seconds"] == 2 and d["max"] == pytest.approx(5.0) and d["mean"] == pytest.approx(3.75)


def test_a_size_change_is_not_flicker() -> None:
    s = MaskStability()
    s.add(np.zeros((4, 4), np.uint8))
    assert s.add(np.ones((8, 8), np.uint8)) is None and s.to_dict()["seconds"] == 0
