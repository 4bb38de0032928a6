"""A synthetic cell-like dataset and video, so the whole chain runs on a fresh machine with no data."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from edgeunet.core.atomic import atomic_dir, atomic_path

Cell = Tuple[float, float, float, float, float, float, float]  # x, y, ax, ay, angle, vx, vy


def _random_cells(rng: np.random.Generator, width: int, height: int, count: int) -> List[Cell]:
    cells = []
    for _ in range(count):
        ax = rng.uniform(0.05, 0.12) * width
        ay = ax * rng.uniform(0.6, 1.0)
        cells.append((rng.uniform(0, width), rng.uniform(0, height), ax, ay, rng.uniform(0, 180), rng.normal(0, 1.2), rng.normal(0, 1.2)))
    return cells


def _render(cells: List[Cell], width: int, height: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Gray 'microscopy' frame (textured cells with dark membranes) and its 0/255 mask."""
    image = np.full((height, width), 105, np.float32)
    mask = np.zeros((height, width), np.uint8)
    for x, y, ax, ay, angle, _, _ in cells:
        center = (int(x), int(y))
        axes = (max(int(ax), 2), max(int(ay), 2))
        cv2.ellipse(image, center, axes, angle, 0, 360, 165.0, -1)
        cv2.ellipse(image, center, axes, angle, 0, 360, 55.0, 2)
        cv2.ellipse(mask, center, axes, angle, 0, 360, 255, -1)
        cv2.circle(image, (int(x + ax * 0.2), int(y)), max(int(ax * 0.25), 1), 120.0, -1)
    image = cv2.GaussianBlur(image, (5, 5), 1.2)
    image += rng.normal(0, 12, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def make_dataset(out: Path | str, count: int = 48, size: int = 128, seed: int = 0) -> Path:
    """OUT/images/NNN.png + OUT/masks/NNN.png (mask 255 = cell, 0 = background)."""
    out = Path(out)
    rng = np.random.default_rng(seed)
    with atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        for i in range(count):
            cells = _random_cells(rng, size, size, int(rng.integers(4, 10)))
            image, mask = _render(cells, size, size, rng)
            cv2.imwrite(str(tmp / "images" / f"{i:03d}.png"), image)
            cv2.imwrite(str(tmp / "masks" / f"{i:03d}.png"), mask)
        (tmp / "README.txt").write_text(
            "Synthetic cell-like images made by `edgeunet data synth`.\nmasks: 255 = cell, 0 = background.\n",
            encoding="utf-8",
        )
    return out


def make_video(path: Path | str, frames: int = 90, width: int = 256, height: int = 192, fps: float = 15.0, seed: int = 1) -> Path:
    """A short MJPG .avi of drifting cells (the demo's stand-in for a camera)."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    cells = _random_cells(rng, width, height, 14)
    with atomic_path(path) as tmp:
        avi = tmp.with_suffix(".avi")
        writer = cv2.VideoWriter(str(avi), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
        try:
            for _ in range(frames):
                gray, _ = _render(cells, width, height, rng)
                writer.write(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
                cells = [(
                    (x + vx) % width, (y + vy) % height, ax, ay, angle + 1.0, vx, vy
                ) for x, y, ax, ay, angle, vx, vy in cells]
        finally:
            writer.release()
        avi.replace(tmp)
    return path
