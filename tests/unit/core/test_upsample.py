"""core.upsample: full-resolution class ids equal argmax(cv2.resize(logits, INTER_LINEAR)) without resizing every plane."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeunet.core.upsample import axis_geometry, grid_argmax, labels_at


def reference(logits: np.ndarray, out_hw: tuple) -> np.ndarray:
    hwc = cv2.resize(np.ascontiguousarray(logits.transpose(1, 2, 0)), (out_hw[1], out_hw[0]), interpolation=cv2.INTER_LINEAR)
    return np.argmax(hwc.reshape(out_hw[0], out_hw[1], -1), axis=2).astype(np.uint8)


def blobs(classes: int, hw: tuple, seed: int = 0, noise: float = 0.3) -> np.ndarray:
    """Logits with region geometry (smoothed one-hot of random rectangles), like a trained model's."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(hw, np.uint8)
    for _ in range(6 * classes):
        y, x = rng.integers(0, hw[0]), rng.integers(0, hw[1])
        labels[y:y + rng.integers(2, hw[0] // 2 + 3), x:x + rng.integers(2, hw[1] // 2 + 3)] = rng.integers(0, classes)
    onehot = (np.arange(classes)[:, None, None] == labels[None]).astype(np.float32)
    smooth = np.stack([cv2.GaussianBlur(p, (0, 0), 1.0) for p in onehot]) * 6
    return smooth + rng.normal(0, noise, smooth.shape).astype(np.float32)


@pytest.mark.parametrize("src,dst", [(240, 1920), (176, 1080), (30, 7), (17, 17), (5, 64)])
def test_axis_geometry_samples_like_cv2_resize(src: int, dst: int) -> None:
    values = np.random.default_rng(1).standard_normal((2, src)).astype(np.float32)
    expected = cv2.resize(values, (dst, 2), interpolation=cv2.INTER_LINEAR)[0]
    g = axis_geometry(src, dst)
    padded = np.pad(values[0], 1, mode="edge")
    got = padded[g.cell] * (1 - g.frac) + padded[g.cell + 1] * g.frac
    assert np.allclose(got, expected, atol=1e-4)
    assert g.counts.sum() == dst and len(g.counts) == src + 1
    assert g.block == g.counts.max()


@pytest.mark.parametrize("classes", [2, 3, 11])
@pytest.mark.parametrize("grid,out", [((44, 60), (270, 480)), ((44, 60), (360, 480)), ((32, 32), (97, 61)), ((44, 60), (30, 40)),
                                      ((1, 8), (5, 40))])
def test_labels_equal_argmax_of_resized_logits(classes: int, grid: tuple, out: tuple) -> None:
    logits = blobs(classes, grid, seed=classes)
    assert np.array_equal(labels_at(logits, out), reference(logits, out))


def test_noisy_logits_with_many_candidates_per_cell_stay_exact() -> None:
    """Random logits: most cells have 3+ candidate classes (the slow branch) and non-corner classes win inside cells."""
    logits = np.random.default_rng(3).standard_normal((11, 20, 24)).astype(np.float32)
    assert np.array_equal(labels_at(logits, (123, 201)), reference(logits, (123, 201)))


def test_a_class_that_wins_no_corner_can_win_between_them() -> None:
    """Why the candidates are not just the corner labels: class 2 is second at both corners and first in the middle."""
    logits = np.zeros((3, 1, 2), np.float32)
    logits[:, 0, 0] = [10.0, -10.0, 9.0]
    logits[:, 0, 1] = [-10.0, 10.0, 9.0]
    got = labels_at(logits, (1, 8))
    assert 2 in got and np.array_equal(got, reference(logits, (1, 8)))


def test_grid_argmax_breaks_ties_like_numpy() -> None:
    logits = np.random.default_rng(4).integers(0, 3, (5, 9, 7)).astype(np.float32)  # many exact ties
    assert np.array_equal(grid_argmax(logits), np.argmax(logits, axis=0).astype(np.uint8))


def test_same_size_needs_no_interpolation() -> None:
    logits = blobs(4, (16, 16))
    assert np.array_equal(labels_at(logits, (16, 16)), np.argmax(logits, axis=0))
