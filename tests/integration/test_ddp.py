"""torchrun with two CPU processes (gloo): one small epoch, metrics and checkpoints written once."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")


def test_two_process_gloo_epoch(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", "-m", "edgeunet",
           "train", "--data", str(synth_data), "--out", str(out), "--epochs", "1", "--width", "4", "--size", "32",
           "--batch-size", "2", "--device", "cpu", "--snapshot-samples", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("epoch 1/1") == 1, proc.stdout  # logged by rank 0 only
    assert "2 processes" in proc.stdout
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1"]
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert not list(out.glob(".*.tmp"))
    # 13 training images split over two ranks: the all-reduced count covers every image once.
    import torch

    payload = torch.load(out / "last.pt", weights_only=True)
    assert len(payload["history"]) == 1
