"""`edgeunet data preview`: look at the pairs (and what augmentation makes of them) before training."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import cv2

from edgeunet.core.overlay import colour_lut, label_tile, overlay, to_bgr, write_png
from edgeunet.core.spec import DEFAULT_COLORS_BGR
from edgeunet.data.augment import AugmentConfig, build_augmentation
from edgeunet.data.dataset import MaskMapper, find_samples, load_pair


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
    samples = find_samples(root)[:count]
    mapper = MaskMapper(mask_values, num_classes)
    lut = colour_lut([DEFAULT_COLORS_BGR[i % len(DEFAULT_COLORS_BGR)] for i in range(num_classes)])
    transform: Any = None
    if augment:
        transform = build_augmentation(AugmentConfig())
    lines = []
    for index, sample in enumerate(samples):
        image, mask = load_pair(sample, mapper)
        image = to_bgr(image)
        scale = tile / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        tiles = [label_tile(image, sample.stem), label_tile(overlay(image, mask, lut), "mask")]
        for k in range(3 if transform is not None else 0):
            transform.set_random_seed(seed * 1000 + index * 10 + k)
            aug = transform(image=image, mask=mask)
            tiles.append(label_tile(overlay(aug["image"], aug["mask"], lut), f"augmented {k + 1}"))
        lines.append(cv2.hconcat(tiles))
    width = max(line.shape[1] for line in lines)
    lines = [cv2.copyMakeBorder(line, 0, 0, 0, width - line.shape[1], cv2.BORDER_CONSTANT) for line in lines]
    write_png(out, cv2.vconcat(lines))
    return len(samples)
