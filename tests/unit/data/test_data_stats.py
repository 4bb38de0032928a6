"""Training-data statistics and their comparison with a calibration set (issue 14 item 2)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

from edgeunet.core.spec import ModelSpec
from edgeunet.data.data_stats import BINS, compare_stats, compute_data_stats, histogram_distance

GRAY = ModelSpec(in_channels=1)
RGB = ModelSpec(in_channels=3, channel_order="rgb", mean=[0.5] * 3, std=[0.25] * 3)


def _write(folder: Path, images: List[np.ndarray]) -> List[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"{i:03d}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths


def _smooth(rng: np.random.Generator, size: int = 64, colour: bool = False) -> np.ndarray:
    """A blurry blob picture: photo-like local contrast, a mid-grey histogram."""
    base = cv2.GaussianBlur(rng.normal(110, 40, (size, size)).astype(np.float32), (0, 0), 4)
    gray = np.clip(base, 0, 255).astype(np.uint8)
    if not colour:
        return gray
    # BGR on disk with a clear colour cast (red high, blue low): a swap is visible
    return np.stack([np.clip(gray * 0.5, 0, 255), gray, np.clip(gray * 1.4 + 20, 0, 255)], axis=2).astype(np.uint8)


def test_stats_shape_and_same_domain_is_quiet(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train = compute_data_stats(_write(tmp_path / "a", [_smooth(rng) for _ in range(12)]), GRAY)
    calib = compute_data_stats(_write(tmp_path / "b", [_smooth(rng) for _ in range(12)]), GRAY)
    assert train["channels"] == 1 and len(train["histogram"][0]) == BINS and train["min_size"] == [64, 64]
    assert abs(sum(train["histogram"][0]) - 1) < 1e-3 and train["edge"][0] > 0
    assert histogram_distance(train, calib) < 0.1
    assert compare_stats(train, calib)["findings"] == []


def test_noise_is_flagged_by_contrast_and_histogram(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    train = compute_data_stats(_write(tmp_path / "a", [_smooth(rng) for _ in range(8)]), GRAY)
    noise = compute_data_stats(_write(tmp_path / "n", [rng.integers(0, 256, (64, 64), dtype=np.uint8) for _ in range(8)]), GRAY)
    findings = compare_stats(train, noise)["findings"]
    assert any("histogram distance" in f for f in findings) and any("local contrast" in f for f in findings)


def test_swapped_channels_and_sizes_are_flagged(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    images = [_smooth(rng, colour=True) for _ in range(8)]
    train = compute_data_stats(_write(tmp_path / "rgb", images), RGB)
    swapped = compute_data_stats(_write(tmp_path / "bgr", [image[:, :, ::-1] for image in images]), RGB)
    assert "channel means swapped? (BGR vs RGB)" in compare_stats(train, swapped)["findings"]
    assert compare_stats(train, train)["findings"] == []
    big = compute_data_stats(_write(tmp_path / "big", [cv2.resize(image, (256, 256)) for image in images[:2]]), RGB)
    assert any(f.startswith("image sizes 256x256 vs training 64x64") for f in compare_stats(train, big)["findings"])


@pytest.mark.parametrize("count", [3])
def test_subset_is_capped_and_seeded(tmp_path: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeunet.data.data_stats as ds

    monkeypatch.setattr(ds, "MAX_IMAGES", count)
    rng = np.random.default_rng(3)
    paths = _write(tmp_path / "a", [_smooth(rng) for _ in range(6)])
    assert compute_data_stats(paths, GRAY)["images"] == count
    assert compute_data_stats(paths, GRAY) == compute_data_stats(paths, GRAY)
