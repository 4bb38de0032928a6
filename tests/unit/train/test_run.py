"""A training run as a user meets it (train/run.py around the loop): the run folder, refusals, an interrupted run and its resume, a finished run.

One tiny run (width 4, depth 2, 32x32, 8 images) so the whole file stays within seconds on a CPU.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
from pathlib import Path
from typing import Any, Dict

import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.atomic import sha256_file  # noqa: E402
from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.data.synth import make_dataset  # noqa: E402
from edgeunet.model.checkpoint import load_checkpoint  # noqa: E402
from edgeunet.train.config import TrainConfig  # noqa: E402
from edgeunet.train.run import train  # noqa: E402
from edgeunet.train.trainer import Trainer  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("trainer") / "cells", count=8, size=32, seed=0)


def _cfg(data: Path, out: Path, **changes: Any) -> TrainConfig:
    values: dict = dict(data=str(data), out=str(out), epochs=1, width=4, depth=2, size=32, batch_size=4,
                        snapshot_samples=1, augment=False, device="cpu", split_by="random")
    values.update(changes)
    return TrainConfig(**values)


def _epochs(run: Path) -> list:
    with open(run / "metrics.csv", newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def story(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """A 2-epoch run (class weights from the masks) stopped by a scheduler's SIGTERM after epoch 1, then resumed.

    One run serves every test below: training is the slow part of this file.
    """
    run = tmp_path_factory.mktemp("runs") / "two"
    original = Trainer._finish_epoch

    def finish_then_sigterm(self: Trainer, epoch: int, row: Any) -> None:
        original(self, epoch, row)
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "_finish_epoch", finish_then_sigterm)
        with pytest.raises(EdgeUnetError) as caught:
            train(_cfg(data, run, epochs=2, class_weights="auto"))
    story: Dict[str, Any] = {"run": run, "error": caught.value, "handler_restored": signal.getsignal(signal.SIGTERM) == handler_before,
                             "epochs_interrupted": _epochs(run), "gif_interrupted": (run / "learning.gif").is_file()}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        story["returned"] = train(TrainConfig(), resume=run, device="cpu")
    story["resume_output"] = printed.getvalue()
    return story


def test_sigterm_saves_the_epoch_and_says_how_to_resume(story: Dict[str, Any]) -> None:
    error = story["error"]
    assert error.exit_code == 130 and "\n" not in str(error)
    assert f"interrupted; {story['run']} is saved up to epoch 1; continue with: edgeunet train --resume {story['run']}" == str(error)
    assert story["handler_restored"]  # SIGTERM's handler is put back after training
    assert story["epochs_interrupted"] == [1] and story["gif_interrupted"]


def test_resume_runs_the_missing_epoch_once(story: Dict[str, Any]) -> None:
    run = story["run"]
    assert story["returned"] == run and f"resuming {run} from epoch 1" in story["resume_output"]
    assert _epochs(run) == [1, 2] and load_checkpoint(run / "last.pt")["epoch"] == 2


def test_a_run_folder_holds_what_the_readme_lists(story: Dict[str, Any]) -> None:
    run = story["run"]
    for name in ("best.pt", "last.pt", "metrics.csv", "config.json", "curves.png", "learning.gif", "class_weights.json"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert not list(run.glob(".*.tmp"))  # every file written by rename
    best, last = load_checkpoint(run / "best.pt"), load_checkpoint(run / "last.pt")
    assert "optimizer" not in best and "optimizer" in last  # best.pt is weights only; last.pt can resume
    assert best["data_stats"]["images"] == 6 and best["spec"]["input_size"] == [32, 32]
    assert best["spec"]["mean"] != [0.5]  # measured on the training images, not the default


def test_resuming_a_finished_run_changes_nothing(story: Dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    run = story["run"]
    before = sha256_file(run / "last.pt")
    assert train(TrainConfig(), resume=run) == run
    assert "already finished at epoch 2; nothing to resume" in capsys.readouterr().out
    assert sha256_file(run / "last.pt") == before and _epochs(run) == [1, 2]


def test_refusals_are_one_line_errors(story: Dict[str, Any], data: Path) -> None:
    run = story["run"]
    with pytest.raises(EdgeUnetError, match="already holds a run; continue it with --resume"):
        train(_cfg(data, run))
    with pytest.raises(EdgeUnetError, match="holds weights only; resume from the run's last.pt"):
        train(TrainConfig(), resume=run / "best.pt")
    with pytest.raises(EdgeUnetError, match="no such run folder or checkpoint"):
        train(TrainConfig(), resume=run / "missing")
    with pytest.raises(EdgeUnetError, match="--epochs 0 must be at least 1"):
        train(_cfg(data, run.parent / "never", epochs=0))
    assert not (run.parent / "never").exists()  # a refused run writes nothing


def _spec() -> Any:
    from edgeunet.core.spec import ModelSpec

    return ModelSpec(input_size=[32, 32])
