"""Augmentation: masks keep their class ids (nearest-neighbour warps), and a probability of 0 switches a step off."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("albumentations")

from edgeunet.data.augment import AugmentConfig, build_augmentation, build_crop  # noqa: E402


def test_warped_masks_hold_only_the_original_class_ids() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:40, 20:50] = 3
    mask[45:60, 5:15] = 7
    transform = build_augmentation(AugmentConfig(affine_p=1.0, rotate_deg=30))
    for _ in range(5):
        out = transform(image=image, mask=mask)
        assert set(np.unique(out["mask"])) <= {0, 3, 7}
        assert out["image"].shape == image.shape


def test_everything_off_returns_the_input() -> None:
    off = AugmentConfig(flip_p=0, vflip_p=0, affine_p=0, noise_p=0, color_p=0)
    image = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    out = build_augmentation(off)(image=image, mask=np.zeros((16, 16), np.uint8))
    assert np.array_equal(out["image"], image)
    assert off.to_dict()["flip_p"] == 0


def test_crop_is_the_asked_size() -> None:
    out = build_crop(16, 24)(image=np.zeros((40, 50, 3), np.uint8), mask=np.zeros((40, 50), np.uint8))
    assert out["image"].shape[:2] == (16, 24) and out["mask"].shape == (16, 24)
