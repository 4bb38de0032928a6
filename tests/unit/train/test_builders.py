"""train/builders.split_data: the split said in one line, the leak warned about, the resolved split kept in the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.data.test_splits import write_sequences

pytest.importorskip("torch")
from edgeunet.train.builders import split_data  # noqa: E402 - needs torch
from edgeunet.train.config import TrainConfig  # noqa: E402


def test_sequences_split_whole_and_recorded_in_the_config(tmp_path: Path) -> None:
    data = write_sequences(tmp_path, {"a": 6, "b": 6, "c": 6, "d": 6, "e": 6}, size=32)
    cfg = TrainConfig(data=str(data))
    said: list = []
    train, val = split_data(cfg, said.append)
    assert cfg.split_by == "sequence" and cfg.sequences == {k: 6 for k in "abcde"} and len(cfg.val_groups) == 1
    assert {s.stem.split("_")[0] for s in val} == set(cfg.val_groups) and len(train) == 24
    assert said == [f"frame sequences found by name (5: a 6, b 6, c 6, d 6, e 6): validating on {cfg.val_groups[0]} (6 images), "
                    "training on the rest (24); --split-by random to override"]
    again = TrainConfig.from_dict(cfg.to_dict())  # resume / QAT: the same division
    assert [s.stem for s in split_data(again, lambda line: None)[1]] == [s.stem for s in val]


def test_a_random_split_of_frames_warns_with_the_count(tmp_path: Path) -> None:
    data = write_sequences(tmp_path, {"a": 10, "b": 10}, size=32)
    said: list = []
    split_data(TrainConfig(data=str(data), split_by="random"), said.append)
    assert said[0] == "random split: training on 16 images, validating on 4"
    assert said[1].startswith("warning: 4 of 4 validation images have a near-duplicate in training")


def test_a_val_data_folder_is_checked_too(tmp_path: Path) -> None:
    write_sequences(tmp_path / "train", {"a": 4}, size=32)
    write_sequences(tmp_path / "val", {"a": 2}, size=32)
    said: list = []
    split_data(TrainConfig(data=str(tmp_path / "train"), val_data=str(tmp_path / "val")), said.append)
    assert said[0].startswith("validating on --val-data") and said[1].startswith("warning: 2 of 2 validation images")
