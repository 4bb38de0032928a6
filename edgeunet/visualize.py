"""Pictures that let a person see a model learn: curves, prediction grids, animation, overlays.

`overlay` is shared with the live stream, so it uses OpenCV kernels only (no per-pixel Python).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import cv2
import numpy as np

from edgeunet.atomic import atomic_path

ERROR_FP_BGR = (60, 60, 230)  # predicted, not true: red
ERROR_FN_BGR = (230, 120, 40)  # true, missed: blue


def colour_lut(colors: Sequence[Sequence[int]]) -> np.ndarray:
    """A 256x1x3 table for cv2.LUT: class id -> BGR colour."""
    lut = np.zeros((256, 1, 3), np.uint8)
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


def error_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Gray where right (light = foreground), red = false positive, blue = false negative."""
    out = np.full(pred.shape + (3,), 40, np.uint8)
    out[(pred == truth) & (truth > 0)] = (200, 200, 200)
    out[(pred != truth) & (pred > 0)] = ERROR_FP_BGR
    out[(pred != truth) & (pred == 0)] = ERROR_FN_BGR
    return out


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def prediction_grid(rows: List[Dict[str, np.ndarray]], lut: np.ndarray, title: str = "") -> np.ndarray:
    """One row per sample: image | truth | prediction | error map."""
    lines = []
    for row in rows:
        image = to_bgr(row["image"])
        tiles = [
            _label(image, "image"),
            _label(colourise(row["truth"], lut), "truth"),
            _label(colourise(row["pred"], lut), "prediction"),
            _label(error_map(row["pred"], row["truth"]), "error"),
        ]
        lines.append(cv2.hconcat(tiles))
    grid = cv2.vconcat(lines)
    if title:
        bar = np.full((22, grid.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, title, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        grid = cv2.vconcat([bar, grid])
    return grid


def write_png(path: Path | str, image: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


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


def preview_dataset(
    root: Path | str,
    mask_values: Sequence[Sequence[int]],
    num_classes: int,
    out: Path | str,
    count: int = 6,
    tile: int = 192,
    augment: bool = False,
    seed: int = 0,
) -> int:
    """A grid of image | mask overlay (| three augmented versions) for the first `count` pairs."""
    from edgeunet.data import MaskMapper, find_samples, load_pair
    from edgeunet.spec import DEFAULT_COLORS_BGR

    samples = find_samples(root)[:count]
    mapper = MaskMapper(mask_values, num_classes)
    lut = colour_lut([DEFAULT_COLORS_BGR[i % len(DEFAULT_COLORS_BGR)] for i in range(num_classes)])
    transform: Any = None
    if augment:
        from edgeunet.augment import AugmentConfig, build_augmentation

        transform = build_augmentation(AugmentConfig())
    lines = []
    for index, sample in enumerate(samples):
        image, mask = load_pair(sample, mapper)
        image = to_bgr(image)
        scale = tile / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        tiles = [_label(image, sample.stem), _label(overlay(image, mask, lut), "mask")]
        for k in range(3 if transform is not None else 0):
            transform.set_random_seed(seed * 1000 + index * 10 + k)
            aug = transform(image=image, mask=mask)
            tiles.append(_label(overlay(aug["image"], aug["mask"], lut), f"augmented {k + 1}"))
        lines.append(cv2.hconcat(tiles))
    width = max(line.shape[1] for line in lines)
    lines = [cv2.copyMakeBorder(line, 0, 0, 0, width - line.shape[1], cv2.BORDER_CONSTANT) for line in lines]
    write_png(out, cv2.vconcat(lines))
    return len(samples)
