"""The loop's own decisions, without a run: what counts as an improvement."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from edgeunet.core.spec import ModelSpec  # noqa: E402
from edgeunet.train.config import TrainConfig  # noqa: E402
from edgeunet.train.trainer import Trainer  # noqa: E402


def test_improvement_needs_a_real_number(tmp_path: Path) -> None:
    """A NaN score (an empty class on a tiny validation set) never becomes 'best'."""
    cfg = TrainConfig(data=str(tmp_path), out=str(tmp_path / "run"), width=4, depth=2, size=32, device="cpu")
    trainer = Trainer(cfg, tmp_path / "run", ModelSpec(input_size=[32, 32]), [], [])
    trainer.state.best_value = 0.5
    assert not trainer._improved(float("nan")) and not trainer._improved(0.5) and trainer._improved(0.51)
