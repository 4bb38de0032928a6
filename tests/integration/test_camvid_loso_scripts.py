"""benchmarks/camvid_split.py and camvid_loso.py without training: folds hold whole sequences; the summary's mean,
order and budget column (the training itself is smoke-tested by hand: EPOCHS=1 on a 12-frame subset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.unit.data.test_splits import write_sequences


def _run(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def test_split_folders_hold_out_the_named_sequence_and_refuse_real_files(tmp_path: Path) -> None:
    data = write_sequences(tmp_path / "data", {"0001TP": 3, "0006R0": 4, "0016E5": 5}, size=16)
    proc = _run("benchmarks/camvid_split.py", data, tmp_path / "fold", "0", "--split-by", "sequence", "--val-groups", "0006R0")
    assert proc.returncode == 0, proc.stderr
    val = sorted(p.name for p in (tmp_path / "fold" / "val" / "images").iterdir())
    train = sorted(p.name for p in (tmp_path / "fold" / "train" / "masks").iterdir())
    assert len(val) == 4 and all(n.startswith("0006R0") for n in val) and len(train) == 8
    assert not any(n.startswith("0006R0") for n in train)
    assert _run("benchmarks/camvid_split.py", data, tmp_path / "fold", "0").returncode == 0  # its own folder: replaced
    proc = _run("benchmarks/camvid_split.py", data, data, "0")
    assert proc.returncode != 0 and "real files" in proc.stderr and (data / "images").is_dir()


def _fold(run: Path, name: str, miou: float, cpu: float) -> None:
    result = {"images": 3, "miou": miou, "class_names": ["sky", "road"], "iou_per_class": {"road": 0.5, "sky": 0.9}}
    (run / f"evaluate-{name}.json").write_text(json.dumps(result))
    (run / f"time-{name}.txt").write_text(f"Command exited with non-zero status 0\n{cpu} 10.0 500.0 204800\n")


def test_summary_means_the_sequence_folds_and_shows_random_beside(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    _fold(run, "0001TP", 0.4, 1000.0)
    _fold(run, "0006R0", 0.5, 3700.0)
    _fold(run, "random", 0.9, 1000.0)
    proc = _run("benchmarks/camvid_loso.py", run, "--name", "test", "--results", tmp_path / "results")
    assert proc.returncode == 0, proc.stderr
    assert "mean mIoU 0.4500 over 2 fold(s)" in proc.stdout
    md = next((tmp_path / "results").glob("camvid-loso-test-*.md")).read_text()
    assert "**Mean mIoU of the sequence folds: 0.4500**" in md and "ISA:" in md
    assert "| sky | road |" in md and "3710 over budget" in md and "| random (random 80/20, leaks: not in the mean) |" in md
    report = json.loads(next((tmp_path / "results").glob("camvid-loso-test-*.json")).read_text())
    assert [f["fold"] for f in report["folds"]] == ["0001TP", "0006R0", "random"] and report["folds"][0]["cpu_s"] == 1010.0
