"""Honest validation through the CLI: data check names the sequences and the leak; train splits by sequence and
records it; export carries the split to the gate; evaluate reports each sequence; ISBI and the demo keep their split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.data.dataset import find_samples
from edgeunet.data.splits import split_samples
from tests.conftest import run_cli
from tests.unit.data.test_splits import write_sequences


@pytest.fixture(scope="module")
def video_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sequences(tmp_path_factory.mktemp("video") / "data", {"0001TP": 6, "0006R0": 8, "0016E5": 10}, size=32)


def test_data_check_names_sequences_and_the_random_leak(video_data: Path) -> None:
    proc = run_cli("data", "check", video_data)
    assert proc.returncode == 0, proc.stderr
    assert "frame sequences: 3 (0001TP 6, 0006R0 8, 0016E5 10)" in proc.stdout
    assert "validating on 0001TP (6 images)" in proc.stdout
    assert "a random split instead (--val-ratio 0.2, seed 0): 5 of 5 validation images would have a near-duplicate" in proc.stdout
    forced = run_cli("data", "check", video_data, "--split-by", "random")
    assert "warning: 5 of 5 validation images have a near-duplicate in training" in forced.stdout and forced.returncode == 0


def test_data_check_on_isbi_finds_no_sequences_and_keeps_the_split(isbi: Path) -> None:
    proc = run_cli("data", "check", isbi, "--positive-value", "0")
    assert proc.returncode == 0, proc.stderr
    assert "frame sequences: none found in the file names" in proc.stdout
    assert "random split: training on 24 images, validating on 6" in proc.stdout
    from edgeunet.data.splits import make_split

    samples = find_samples(isbi)
    assert make_split(samples, 0.2, 0).val == split_samples(samples, 0.2, 0.0, 0)[1]  # the images ISBI always validated on


def test_demo_data_keeps_the_random_split(synth_data: Path, tiny_run: Path) -> None:
    """The demo's synthetic set has no sequences: the run's config says random and its split is the old one."""
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["split_by"] == "random" and config["val_groups"] is None
    _, val, _ = split_samples(find_samples(synth_data), config["val_ratio"], 0.0, config["seed"])
    assert len(val) == 3


@pytest.mark.slow
def test_train_records_sequences_export_carries_them_evaluate_reports_them(video_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    run = tmp_path / "run"
    proc = run_cli("train", "--data", video_data, "--out", run, "--epochs", "1", "--width", "4", "--depth", "2", "--size", "32",
                   "--snapshot-samples", "0")
    assert proc.returncode == 0, proc.stderr
    assert "frame sequences found by name (3: 0001TP 6, 0006R0 8, 0016E5 10): validating on 0001TP (6 images)" in proc.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["split_by"] == "sequence" and config["val_groups"] == ["0001TP"]
    assert config["sequences"] == {"0001TP": 6, "0006R0": 8, "0016E5": 10}
    proc = run_cli("export", run / "best.pt", "--out", tmp_path / "m.onnx")
    assert proc.returncode == 0, proc.stderr
    from edgeunet.evaluate.gate import validation_samples

    samples, source = validation_samples(tmp_path / "m.onnx")
    assert {s.stem.split("_")[0] for s in samples} == {"0001TP"} and len(samples) == 6, source
    proc = run_cli("evaluate", run / "best.pt", "--data", video_data)
    assert proc.returncode == 0, proc.stderr
    assert "per sequence (weakest first)" in proc.stdout and "0016E5" in proc.stdout
