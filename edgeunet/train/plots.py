"""Pictures that let a person see a model learn: curves, prediction grids, the learning animation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import cv2
import numpy as np

from edgeunet.core.atomic import atomic_path
from edgeunet.core.overlay import IGNORE_GREY, colourise, label_tile, to_bgr
from edgeunet.core.spec import IGNORE_LABEL

ERROR_FP_BGR = (60, 60, 230)  # predicted, not true: red
ERROR_FN_BGR = (230, 120, 40)  # true, missed: blue


def error_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Gray where right (light = foreground), red = false positive, blue = false negative, mid-grey = ignored."""
    out = np.full(pred.shape + (3,), 40, np.uint8)
    out[(pred == truth) & (truth > 0)] = (200, 200, 200)
    out[(pred != truth) & (pred > 0)] = ERROR_FP_BGR
    out[(pred != truth) & (pred == 0)] = ERROR_FN_BGR
    out[truth == IGNORE_LABEL] = IGNORE_GREY  # void: neither right nor wrong
    return out


def prediction_grid(rows: List[Dict[str, np.ndarray]], lut: np.ndarray, title: str = "") -> np.ndarray:
    """One row per sample: image | truth | prediction | error map."""
    lines = []
    for row in rows:
        image = to_bgr(row["image"])
        tiles = [
            label_tile(image, "image"),
            label_tile(colourise(row["truth"], lut), "truth"),
            label_tile(colourise(row["pred"], lut), "prediction"),
            label_tile(error_map(row["pred"], row["truth"]), "error"),
        ]
        lines.append(cv2.hconcat(tiles))
    grid = cv2.vconcat(lines)
    if title:
        bar = np.full((22, grid.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, title, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        grid = cv2.vconcat([bar, grid])
    return grid


def plot_curves(history: List[Dict[str, Any]], path: Path | str) -> None:
    """Loss, mIoU and Dice per epoch, train and val, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, label in zip(axes, ("loss", "miou", "dice"), ("loss", "mIoU", "Dice")):
        ax.plot(epochs, [row[f"train_{key}"] for row in history], label="train", marker=".")
        ax.plot(epochs, [row[f"val_{key}"] for row in history], label="val", marker=".")
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def make_animation(frames: Sequence[Path], path: Path | str, seconds_per_frame: float = 0.4) -> None:
    """learning.gif from the epoch snapshots (last frame held longer)."""
    import imageio.v2 as imageio

    images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in frames]
    if not images:
        return
    height = min(img.shape[0] for img in images)
    images = [img[:height] for img in images]
    # Pillow wants a scalar duration for a single frame, a list otherwise; durations are in milliseconds.
    durations: Any = [seconds_per_frame * 1000] * (len(images) - 1) + [2000.0] if len(images) > 1 else 2000.0
    with atomic_path(path) as tmp:
        imageio.mimsave(tmp, images, format="GIF", duration=durations, loop=0)
