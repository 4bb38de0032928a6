"""Synthetic data (the demo's and the tests'): paired images/masks with both classes, seeded, and a playable video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeunet.core.images import read_image, read_mask
from edgeunet.data.synth import make_dataset, make_video


def test_dataset_pairs_are_seeded_and_hold_both_classes(tmp_path: Path) -> None:
    make_dataset(tmp_path / "a", count=3, size=64, seed=5)
    make_dataset(tmp_path / "b", count=3, size=64, seed=5)
    images = sorted((tmp_path / "a/images").iterdir())
    assert len(images) == 3 and len(list((tmp_path / "a/masks").iterdir())) == 3
    for image in images:
        mask = read_mask(tmp_path / "a/masks" / image.name)
        assert set(np.unique(mask)) == {0, 255}
        assert np.array_equal(read_image(image), read_image(tmp_path / "b/images" / image.name))


def test_video_has_the_asked_frames(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.avi", frames=12, width=64, height=48)
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape[:2] == (48, 64)
