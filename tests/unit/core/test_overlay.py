"""core.overlay: colouring and blending (the stream calls overlay() on every frame)."""

from __future__ import annotations

import cv2
import numpy as np

from edgeunet.core.overlay import colour_lut, colourise, overlay, packed_lut
from edgeunet.core.spec import IGNORE_LABEL, ModelSpec


def _scene() -> tuple:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    mask = cv2.resize(rng.integers(0, 4, (5, 7)).astype(np.uint8), (70, 45), interpolation=cv2.INTER_NEAREST)
    mask[0, :5] = IGNORE_LABEL
    return frame, mask, colour_lut(ModelSpec(num_classes=4).colors)


def test_colourise_is_the_lut_per_pixel() -> None:
    _, mask, lut = _scene()
    assert np.array_equal(colourise(mask, lut), lut[mask, 0])
    out = np.empty(mask.shape + (3,), np.uint8)
    assert colourise(mask, lut, dst=out) is out and np.array_equal(out, lut[mask, 0])
    assert packed_lut(lut).shape == (1, 256) and packed_lut(lut).dtype == np.int32


def test_overlay_blends_classes_and_keeps_background_pixels() -> None:
    frame, mask, lut = _scene()
    before = frame.copy()
    view = overlay(frame, mask, lut, 0.45)
    assert np.array_equal(frame, before)  # the frame is not drawn on
    background = mask == 0
    assert np.array_equal(view[background], frame[background])
    blended = cv2.addWeighted(frame, 0.55, lut[mask, 0], 0.45, 0.0)
    assert np.array_equal(view[~background], blended[~background])


def test_overlay_of_a_gray_frame_and_a_new_mask_size() -> None:
    frame, mask, lut = _scene()
    assert overlay(frame[:, :, 0], mask, lut).shape == frame.shape
    small = overlay(frame[:20, :30], mask[:20, :30], lut)  # the reused colour buffer follows the size
    assert small.shape == (20, 30, 3)
