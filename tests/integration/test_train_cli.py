"""Train, evaluate and resume through the CLI, as a user would, on small synthetic data."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("torch")


def _csv_epochs(path: Path) -> list:
    if not path.exists():
        return []
    with path.open() as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_run_folder_has_everything_to_watch_learning(tiny_run: Path) -> None:
    for name in ("best.pt", "last.pt", "metrics.csv", "curves.png", "learning.gif", "config.json"):
        assert (tiny_run / name).is_file(), name
    assert sorted(p.name for p in (tiny_run / "snapshots").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert _csv_epochs(tiny_run / "metrics.csv") == [1, 2]
    assert not list(tiny_run.glob(".*tmp"))


def test_evaluate_prints_table_and_writes_json(tiny_run: Path, synth_data: Path, tmp_path: Path) -> None:
    proc = run_cli("evaluate", tiny_run / "best.pt", "--data", synth_data, "--json", tmp_path / "m.json",
                   "--save-predictions", tmp_path / "pred")
    assert proc.returncode == 0, proc.stderr
    assert "mIoU" in proc.stdout and "Dice" in proc.stdout
    result = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= result["dice"] <= 1 and result["images"] == 16
    assert len(list((tmp_path / "pred" / "masks").glob("*.png"))) == 16


def test_config_file_supplies_options_and_flags_win(synth_data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"data: {synth_data}\nepochs: 1\nwidth: 4\nsize: 32\nbatch-size: 8\nsnapshot_samples: 0\n")
    proc = run_cli("train", "--config", cfg, "--out", tmp_path / "run", "--width", "8")
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["epochs"], saved["width"], saved["size"]) == (1, 8, 32)


def _train_args(data: Path, out: Path, epochs: int) -> list:
    return ["train", "--data", str(data), "--out", str(out), "--epochs", str(epochs), "--width", "4", "--size", "32",
            "--batch-size", "4", "--snapshot-samples", "1", "--patience", "0"]


def _start(args: list) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "edgeunet", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _kill_after_epoch(proc: subprocess.Popen, csv_path: Path, epoch: int, rng: random.Random) -> None:
    deadline = time.time() + 240
    while len(_csv_epochs(csv_path)) < epoch and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 0.6))  # somewhere inside the next epoch (or its checkpoint writes)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_sigkill_twice_then_resume_matches_uninterrupted(synth_data: Path, tmp_path: Path) -> None:
    rng = random.Random(os.getpid())
    epochs = 6
    reference = tmp_path / "reference"
    ref = _start(_train_args(synth_data, reference, epochs))
    killed = tmp_path / "killed"
    _kill_after_epoch(_start(_train_args(synth_data, killed, epochs)), killed / "metrics.csv", 2, rng)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    second = subprocess.Popen([sys.executable, "-m", "edgeunet", "train", "--resume", str(killed)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _kill_after_epoch(second, killed / "metrics.csv", 4, rng)
    final = subprocess.run([sys.executable, "-m", "edgeunet", "train", "--resume", str(killed)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert final.returncode == 0, final.stderr
    assert ref.wait(timeout=300) == 0
    assert _csv_epochs(killed / "metrics.csv") == list(range(1, epochs + 1))
    with (reference / "metrics.csv").open() as f:
        expected = list(csv.DictReader(f))
    with (killed / "metrics.csv").open() as f:
        got = list(csv.DictReader(f))
    for a, b in zip(expected, got):  # exact continuation: same losses and scores epoch by epoch
        for key in ("train_loss", "val_loss", "val_dice", "lr"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-4, abs=1e-6), (a["epoch"], key)
    proc = run_cli("evaluate", killed / "best.pt", "--data", synth_data)
    assert proc.returncode == 0, proc.stderr
    assert not list(killed.glob(".*tmp"))


def test_ctrl_c_saves_and_says_how_to_resume(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _start(_train_args(synth_data, out, 50))
    deadline = time.time() + 120
    while len(_csv_epochs(out / "metrics.csv")) < 1 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "--resume" in text
    assert (out / "last.pt").is_file()


def test_resume_of_finished_run_is_a_no_op(tiny_run: Path) -> None:
    proc = run_cli("train", "--resume", tiny_run)
    assert proc.returncode == 0 and "already finished" in proc.stdout
