"""train/config.py: the split options, and configs from before split modes."""

from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.train.config import TrainConfig


def test_config_from_before_split_modes_resumes_at_random_and_options_are_checked() -> None:
    assert TrainConfig.from_dict({"data": "d"}).split_by == "random"
    assert TrainConfig().split_by == "auto"
    assert TrainConfig.from_dict({"data": "d", "split_by": "auto", "val_groups": "a, b"}).val_groups == ["a", "b"]
    with pytest.raises(EdgeUnetError, match="--split-by scene"):
        TrainConfig(data="d", split_by="scene").validate()
    with pytest.raises(EdgeUnetError, match="--val-data is the validation set"):
        TrainConfig(data="d", val_data="v", val_groups=["a"]).validate()
    with pytest.raises(EdgeUnetError, match="--group-regex"):
        TrainConfig(data="d", group_regex="(").validate()
