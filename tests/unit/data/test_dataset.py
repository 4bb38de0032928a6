from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.data.dataset import MaskMapper, default_mask_values, find_samples, mean_std, parse_mask_map
from edgeunet.data.splits import split_samples


def _write(folder: Path, names: list, value: int = 0, size: tuple = (8, 8)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.full(size, value, np.uint8))


def test_pairs_by_stem_across_formats_natural_order(tmp_path: Path) -> None:
    _write(tmp_path / "images", ["10.png", "2.jpg", "1.tif"])
    _write(tmp_path / "masks", ["10.png", "2.png", "1.png"])
    (tmp_path / "images" / "notes.txt").write_text("ignored")
    samples = find_samples(tmp_path)
    assert [s.stem for s in samples] == ["1", "2", "10"]
    assert samples[1].image.suffix == ".jpg" and samples[1].mask.suffix == ".png"


def test_missing_mask_is_reported_with_an_example(tmp_path: Path) -> None:
    _write(tmp_path / "images", ["a.png", "b.png"])
    _write(tmp_path / "masks", ["a.png"])
    with pytest.raises(EdgeUnetError, match="1 image.*no mask.*b.png"):
        find_samples(tmp_path)


def test_split_is_deterministic_and_disjoint() -> None:
    samples = list(range(30))
    a = split_samples(samples, 0.2, 0.1, seed=3)
    b = split_samples(samples, 0.2, 0.1, seed=3)
    assert a == b
    train, val, test = a
    assert (len(train), len(val), len(test)) == (21, 6, 3)
    assert not set(train) & set(val) and not set(val) & set(test)
    assert split_samples(samples, 0.2, 0.1, seed=4) != a


def test_isbi_membrane_positive_with_one_flag() -> None:
    mapper = MaskMapper(default_mask_values(2, positive_value=0), 2)
    np.testing.assert_array_equal(mapper(np.array([[0, 255]], np.uint8)), [[1, 0]])


def test_default_binary_accepts_0_255_and_0_1() -> None:
    mapper = MaskMapper(default_mask_values(2), 2)
    np.testing.assert_array_equal(mapper(np.array([[0, 255, 1]], np.uint8)), [[0, 1, 1]])


def test_unknown_mask_values_are_an_error() -> None:
    mapper = MaskMapper(parse_mask_map("0:0,128:1,255:2"), 3)
    with pytest.raises(EdgeUnetError, match="values 7 are not in the mapping"):
        mapper(np.array([[0, 7, 255]], np.uint8))


@pytest.mark.parametrize("text", ["0-1", "a:b", ""])
def test_bad_mask_map(text: str) -> None:
    with pytest.raises(EdgeUnetError):
        parse_mask_map(text)


def test_mapping_to_a_class_the_model_lacks() -> None:
    with pytest.raises(EdgeUnetError, match="class 5"):
        MaskMapper([[0, 0], [255, 5]], 2)


def test_mean_std_in_unit_range() -> None:
    mean, std = mean_std([np.full((4, 4), 255, np.uint8), np.zeros((4, 4), np.uint8)])
    assert mean == [0.5] and std == [0.5]


def test_ignore_index_becomes_the_ignore_label_and_later_classes_move_down() -> None:
    from edgeunet.core.spec import IGNORE_LABEL
    from edgeunet.data.dataset import apply_ignore_index

    values, classes = apply_ignore_index([[0, 0], [1, 1], [2, 2], [3, 3]], 1, 4)
    assert classes == 3 and values == [[0, 0], [1, IGNORE_LABEL], [2, 1], [3, 2]]
    mapper = MaskMapper(values, classes)
    assert mapper(np.array([[0, 1, 2, 3]], np.uint8)).tolist() == [[0, IGNORE_LABEL, 1, 2]]


def test_ignore_index_outside_the_mask_values_is_one_clear_error() -> None:
    from edgeunet.data.dataset import apply_ignore_index

    with pytest.raises(EdgeUnetError, match="--ignore-index 7"):
        apply_ignore_index([[0, 0], [255, 1]], 7, 2)


def test_mask_map_value_can_be_ignored() -> None:
    from edgeunet.core.spec import IGNORE_LABEL

    assert parse_mask_map("0:0,128:1,255:ignore") == [[0, 0], [128, 1], [255, IGNORE_LABEL]]
