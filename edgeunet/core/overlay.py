"""Drawing class masks onto frames, shared by training snapshots, evaluate/infer outputs and the live stream.

OpenCV kernels only (no per-pixel Python): the stream calls `overlay` on every frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from edgeunet.core.atomic import atomic_path
from edgeunet.core.spec import IGNORE_LABEL

IGNORE_GREY = (128, 128, 128)


def colour_lut(colors: Sequence[Sequence[int]]) -> np.ndarray:
    """A 256x1x3 table for cv2.LUT: class id -> BGR colour; IGNORE_LABEL (void in truth masks) is grey."""
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[IGNORE_LABEL, 0] = IGNORE_GREY
    for i, colour in enumerate(colors[:256]):
        lut[i, 0] = colour
    return lut


def colourise(mask: np.ndarray, lut: np.ndarray) -> np.ndarray:
    return cv2.LUT(cv2.merge([mask, mask, mask]), lut)


def overlay(frame: np.ndarray, mask: np.ndarray, lut: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend class colours onto a BGR frame where the mask is not background."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    coloured = colourise(mask, lut)
    blended = cv2.addWeighted(frame, 1.0 - alpha, coloured, alpha, 0.0)
    out = frame.copy()
    cv2.copyTo(blended, mask, out)
    return out


def contour_overlay(frame: np.ndarray, mask: np.ndarray, colors: Sequence[Sequence[int]], thickness: int = 2) -> np.ndarray:
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    out = frame.copy()
    for cls in range(1, len(colors)):
        binary = cv2.compare(mask, cls, cv2.CMP_EQ)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            cv2.drawContours(out, contours, -1, tuple(int(c) for c in colors[cls]), thickness)
    return out


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Gray frames become 3-channel so that colour drawing and video writers take them."""
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def label_tile(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def write_png(path: Path | str, image: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())
