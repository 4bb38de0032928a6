"""data/leakage.py: near-twins across a random split of video frames are found; whole sequences leak none."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeunet.data.dataset import find_samples
from edgeunet.data.leakage import NEAR_DUPLICATE, near_duplicates, split_check_lines, thumbnail
from edgeunet.data.splits import make_split
from tests.unit.data.test_splits import write_sequences


def _paths(samples: list) -> list:
    return [s.image for s in samples]


def test_a_random_split_of_sequences_leaks_and_a_split_by_sequence_does_not(tmp_path: Path) -> None:
    data = write_sequences(tmp_path, {"street": 12, "park": 12, "tunnel": 12})
    samples = find_samples(data)
    random = make_split(samples, 0.25, 0, "random")
    leak = near_duplicates(_paths(random.train), _paths(random.val))
    assert leak.val_with_twin == leak.val_images == 9 and leak.pairs >= 9
    assert leak.line().startswith(f"warning: 9 of 9 validation images have a near-duplicate in training ({leak.pairs} pairs")
    assert len(leak.examples) == 3 and all(v.split("_")[0] == t.split("_")[0] for v, t, _ in leak.examples)
    by_sequence = make_split(samples, 0.25, 0)
    clean = near_duplicates(_paths(by_sequence.train), _paths(by_sequence.val))
    assert clean.pairs == 0 and clean.line().startswith("no near-duplicates across training (24) and validation (12)")


def test_brightness_and_contrast_do_not_hide_a_copy(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    image = cv2.resize(rng.integers(0, 256, (5, 5), dtype=np.uint8), (80, 60), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "b.jpg"), np.clip(image * 0.6 + 40, 0, 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "c.png"), cv2.resize(rng.integers(0, 256, (5, 5), dtype=np.uint8), (80, 60)))
    a, b, c = (thumbnail(tmp_path / n) for n in ("a.png", "b.jpg", "c.png"))
    assert float(a @ b) >= NEAR_DUPLICATE > float(a @ c)


def test_a_flat_image_matches_nothing(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "flat.png"), np.full((20, 20), 7, np.uint8))
    assert not thumbnail(tmp_path / "flat.png").any()


def test_data_check_lines_name_the_sequences_and_the_random_leak(tmp_path: Path) -> None:
    data = write_sequences(tmp_path, {"0001TP": 6, "0006R0": 8, "0016E5": 10}, size=32)
    lines = split_check_lines(data)
    assert lines[0] == "frame sequences: 3 (0001TP 6, 0006R0 8, 0016E5 10)"
    assert lines[1].startswith("frame sequences found by name (3: ") and "validating on 0001TP (6 images)" in lines[1]
    assert lines[2].startswith("no near-duplicates")
    assert lines[3].startswith("a random split instead (--val-ratio 0.2, seed 0): 5 of 5 validation images would have")


def test_data_check_lines_compare_a_validation_folder(tmp_path: Path) -> None:
    write_sequences(tmp_path / "train", {"a": 5}, size=32)
    write_sequences(tmp_path / "val", {"a": 3}, size=32)  # the same scene, same seed: copies of the first frames
    lines = split_check_lines(tmp_path / "train", val_data=tmp_path / "val")
    assert lines[0] == "frame sequences: none found in the file names"
    assert lines[1] == f"validation: --val-data {tmp_path / 'val'} (3 images)"
    assert lines[2].startswith("warning: 3 of 3 validation images have a near-duplicate in training")
