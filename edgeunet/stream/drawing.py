"""The picture the sinks get: the overlay modes and the HUD text, OpenCV kernels only."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from edgeunet.core.overlay import colourise, contour_overlay, overlay, to_bgr
from edgeunet.core.spec import ModelSpec


def render(frame: np.ndarray, mask: np.ndarray, mode: str, lut: np.ndarray, colors: Sequence[Sequence[int]], alpha: float) -> np.ndarray:
    """The picture the sinks get; OpenCV kernels only (LUT, addWeighted, copyTo, findContours): no per-pixel Python."""
    if mode == "alpha":
        return overlay(frame, mask, lut, alpha)
    if mode == "mask":
        return colourise(mask, lut)
    if mode == "contour":
        return contour_overlay(frame, mask, colors)
    return cv2.hconcat([to_bgr(frame), colourise(mask, lut)])


def graph_draws_overlay(spec: ModelSpec, mode: str, alpha: float) -> bool:
    """Whether an end-to-end model's own overlay output is the picture (it was drawn on the GPU): for --overlay alpha at
    the alpha it was exported with. Another --alpha or mode is drawn on the CPU from the mask, as for any model."""
    return mode == "alpha" and spec.end_to_end and spec.overlay_alpha is not None and abs(float(spec.overlay_alpha) - alpha) < 1e-6


def draw_hud(view: np.ndarray, text: str) -> None:
    """White text on a dark outline, top-left, scaled with the frame; drawn in place."""
    scale = max(0.4, view.shape[1] / 1400.0)
    y = int(10 + 22 * scale)
    cv2.putText(view, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(3, int(4 * scale)), cv2.LINE_AA)
    cv2.putText(view, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(1.5 * scale)), cv2.LINE_AA)

