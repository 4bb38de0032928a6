"""Tests for edgeunet.stream.drawing."""

from __future__ import annotations

import numpy as np
import pytest

from edgeunet.core.overlay import colour_lut
from edgeunet.core.spec import ModelSpec
from edgeunet.stream.drawing import draw_hud, render


@pytest.mark.parametrize(("mode", "width"), [("alpha", 40), ("mask", 40), ("contour", 40), ("side", 80)])
def test_render_modes(mode: str, width: int) -> None:
    spec = ModelSpec(num_classes=3, class_names=["bg", "a", "b"])
    frame = np.full((30, 40, 3), 100, np.uint8)
    mask = np.zeros((30, 40), np.uint8)
    mask[5:15, 5:15] = 1
    mask[20:28, 20:35] = 2
    view = render(frame, mask, mode, colour_lut(spec.colors), spec.colors, 0.5)
    assert view.shape == (30, width, 3) and view.dtype == np.uint8
    assert (frame == 100).all()  # the source frame is never drawn on
    if mode == "alpha":
        assert (view[0, 0] == 100).all() and not (view[10, 10] == 100).all()
    gray = render(frame[:, :, 0], mask, mode, colour_lut(spec.colors), spec.colors, 0.5)
    assert gray.shape == (30, width, 3)


def test_hud_draws_on_the_view() -> None:
    view = np.zeros((120, 320, 3), np.uint8)
    draw_hud(view, "12.3 FPS  infer 4.5 ms")
    assert view.max() == 255
