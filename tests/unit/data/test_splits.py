"""data/splits.py: sequences found by name, groups kept whole, the random split unchanged, the record read back."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.data.dataset import Sample, find_samples
from edgeunet.data.splits import (
    compile_group_regex,
    find_groups,
    group_of,
    has_sequences,
    make_split,
    recorded_validation,
    split_record,
    split_samples,
)


def _samples(stems: List[str]) -> List[Sample]:
    return [Sample(stem, Path(f"/x/images/{stem}.png"), Path(f"/x/masks/{stem}.png")) for stem in stems]


def write_sequences(root: Path, lengths: Dict[str, int], size: int = 64, seed: int = 0) -> Path:
    """Video-like data: per sequence one smooth random scene, its frames shifted by a pixel each and noised."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, count in lengths.items():
        scene = cv2.resize(rng.integers(0, 256, (6, 6), dtype=np.uint8), (size * 2, size * 2), interpolation=cv2.INTER_CUBIC)
        for frame in range(count):
            image = scene[frame : frame + size, frame : frame + size].astype(np.int16) + rng.integers(-3, 4, (size, size))
            image = np.clip(image, 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / "images" / f"{name}_{frame * 30:06d}.png"), image)
            cv2.imwrite(str(root / "masks" / f"{name}_{frame * 30:06d}.png"), ((image > 127) * 255).astype(np.uint8))
    return root


@pytest.mark.parametrize("stem, group", [
    ("0001TP_006690", "0001TP"), ("0006R0_f00930", "0006R0"), ("0016E5_00390", "0016E5"),
    ("frame0042", "frame"), ("clip-a.17", "clip-a"), ("17", None), ("000", None),
])
def test_the_name_before_the_frame_number_is_the_sequence(stem: str, group: str) -> None:
    assert group_of(stem, compile_group_regex(None)) == group


def test_a_group_regex_names_the_sequence_by_its_first_group() -> None:
    assert group_of("cam2-2021-05-03-001", compile_group_regex(r"^(cam\d)")) == "cam2"
    with pytest.raises(EdgeUnetError, match="--group-regex"):
        compile_group_regex("(")


def test_one_naming_scheme_is_not_several_sequences() -> None:
    assert not has_sequences(find_groups(_samples([f"img_{i:04d}" for i in range(20)])))
    assert not has_sequences(find_groups(_samples([str(i) for i in range(30)])))
    assert has_sequences(find_groups(_samples([f"a_{i}" for i in range(5)] + [f"b_{i}" for i in range(5)])))


@pytest.mark.parametrize("stems", [[str(i) for i in range(30)], [f"{i:03d}" for i in range(48)], [f"img_{i:04d}" for i in range(40)]])
@pytest.mark.parametrize("seed", [0, 3])
def test_isbi_and_demo_names_keep_the_split_they_always_had(stems: List[str], seed: int) -> None:
    """ISBI (0..29) and the demo (000..047) have no sequences: auto must give exactly the old random split."""
    samples = _samples(stems)
    split = make_split(samples, 0.2, seed)
    train, val, _ = split_samples(samples, 0.2, 0.0, seed)
    assert split.mode == "random" and split.train == train and split.val == val


def test_sequences_are_kept_whole_and_val_ratio_is_a_share_of_them() -> None:
    lengths = {"s0": 10, "s1": 12, "s2": 30, "s3": 8, "s4": 9, "s5": 11, "s6": 10, "s7": 10, "s8": 9, "s9": 11}
    samples = _samples([f"{name}_{i:05d}" for name, n in lengths.items() for i in range(n)])
    for seed in range(5):
        split = make_split(samples, 0.2, seed)
        assert split.mode == "sequence" and split.auto and len(split.val_groups) == 2
        val_groups = {s.stem.split("_")[0] for s in split.val}
        train_groups = {s.stem.split("_")[0] for s in split.train}
        assert val_groups == set(split.val_groups) and not val_groups & train_groups
        assert len(split.train) + len(split.val) == len(samples)
        assert split.groups == lengths
    assert make_split(samples, 0.2, 1).val_groups == make_split(samples, 0.2, 1).val_groups


def test_the_held_out_share_of_images_stays_near_the_ratio() -> None:
    """CamVid-like lengths 62/101/204: one sequence of three is held out, and not the one with 56% of the frames."""
    samples = _samples([f"A_{i}" for i in range(62)] + [f"B_{i}" for i in range(101)] + [f"C_{i}" for i in range(204)])
    assert make_split(samples, 0.2, 0).val_groups == ["A"]


def test_named_validation_sequences_and_their_mistakes() -> None:
    samples = _samples([f"{g}_{i}" for g in "ABC" for i in range(4)])
    split = make_split(samples, 0.2, 0, "sequence", val_groups=["B"])
    assert {s.stem for s in split.val} == {f"B_{i}" for i in range(4)}
    with pytest.raises(EdgeUnetError, match="--val-groups D: no such sequence; found A, B, C"):
        make_split(samples, 0.2, 0, val_groups=["D"])
    with pytest.raises(EdgeUnetError, match="every sequence"):
        make_split(samples, 0.2, 0, val_groups=["A", "B", "C"])
    with pytest.raises(EdgeUnetError, match="same sequence"):
        make_split(_samples([f"img_{i}" for i in range(9)]), 0.2, 0, "sequence")
    with pytest.raises(EdgeUnetError, match="--split-by"):
        make_split(samples, 0.2, 0, "scene")


def test_random_on_request_even_with_sequences() -> None:
    samples = _samples([f"{g}_{i}" for g in "ABC" for i in range(10)])
    assert make_split(samples, 0.2, 0, "random").mode == "random"


def test_the_record_export_writes_is_read_back_to_the_same_images(tmp_path: Path) -> None:
    data = write_sequences(tmp_path / "data", {"a": 4, "b": 4, "c": 4}, size=16)
    split = make_split(find_samples(data), 0.3, 2)
    config = {"data": str(data), "val_ratio": 0.3, "seed": 2, "split_by": split.mode, "val_groups": split.val_groups}
    record = split_record(tmp_path / "run" / "best.pt", config)
    assert record["split_by"] == "sequence" and record["data"] == str(data)
    samples, source = recorded_validation(record)
    assert [s.stem for s in samples] == [s.stem for s in split.val]
    assert source.startswith(f"sequence(s) {split.val_groups[0]}")


def test_a_record_from_before_split_modes_is_the_random_split(tmp_path: Path) -> None:
    data = write_sequences(tmp_path / "data", {"a": 5, "b": 5}, size=16)
    samples, _ = recorded_validation({"data": str(data), "val_ratio": 0.2, "seed": 0})
    _, val, _ = split_samples(find_samples(data), 0.2, 0.0, 0)
    assert samples == val


def test_a_tampered_record_is_refused(tmp_path: Path) -> None:
    data = write_sequences(tmp_path / "data", {"a": 3, "b": 3}, size=16)
    with pytest.raises(EdgeUnetError, match="split_by"):
        recorded_validation({"data": str(data), "val_ratio": 0.2, "split_by": "rm -rf"})
    with pytest.raises(EdgeUnetError, match="val_groups"):
        recorded_validation({"data": str(data), "val_ratio": 0.2, "split_by": "sequence", "val_groups": "a"})
    assert recorded_validation({"data": str(tmp_path / "gone"), "val_ratio": 0.2}) is None


def test_calibration_draws_only_from_the_training_sequences(tmp_path: Path) -> None:
    """int8 excludes the recorded validation images; split by sequence, those are whole sequences."""
    from edgeunet.data.splits import sample_images

    data = write_sequences(tmp_path / "data", {"a": 4, "b": 4, "c": 4}, size=16)
    split = make_split(find_samples(data), 0.3, 0)
    chosen = sample_images(data, 100, seed=0, exclude=[s.image for s in split.val])
    assert len(chosen) == 8 and not {p.stem.split("_")[0] for p in chosen} & set(split.val_groups)
