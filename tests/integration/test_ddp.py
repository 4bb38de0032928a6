"""torchrun with two CPU processes (gloo): one small epoch, metrics logged once, checkpoints and metrics written once."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

SPY = Path(__file__).with_name("ddp_spy.py")


def test_two_process_gloo_epoch(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    writes = tmp_path / "writes.log"
    # ddp_spy.py is edgeunet's CLI with each save_checkpoint / write_metrics_csv call logged with its RANK.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", str(SPY),
           "train", "--data", str(synth_data), "--out", str(out), "--epochs", "1", "--width", "4", "--size", "32",
           "--batch-size", "2", "--device", "cpu", "--snapshot-samples", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "EDGEUNET_WRITE_LOG": str(writes),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # metrics logged once: one epoch line and one start line, from rank 0 only
    assert proc.stdout.count("epoch 1/1") == 1, proc.stdout
    assert proc.stdout.count("channel(s)") == 1 and proc.stdout.count("split:") <= 1 and "2 processes" in proc.stdout, proc.stdout
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1"]
    # checkpoints saved once: each file written exactly once, by rank 0 (a second writer would be invisible in the files)
    lines = sorted(writes.read_text().splitlines())
    assert lines == ["0 checkpoint best.pt", "0 checkpoint last.pt", "0 metrics metrics.csv"], lines
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert not list(out.glob(".*.tmp"))
    import torch

    payload = torch.load(out / "last.pt", weights_only=True)
    assert len(payload["history"]) == 1
    assert not any(key.startswith("module.") for key in payload["state_dict"]), "DDP wrapper leaked into the checkpoint"
