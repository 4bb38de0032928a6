"""Run-folder files: metrics.csv columns (per-class IoU after the fixed ones), resume paths, stale temp files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("torch")

from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.train.run_files import (  # noqa: E402
    CSV_COLUMNS,
    per_class_columns,
    remove_stale_temp_files,
    resume_checkpoint_path,
    write_metrics_csv,
)


def test_metrics_csv_has_fixed_then_per_class_columns(tmp_path: Path) -> None:
    row = {"epoch": 1, "lr": 0.001, **per_class_columns("val", [0.5, 0.25], ["road", "side walk/x"])}
    write_metrics_csv(tmp_path / "metrics.csv", [row])
    header, values = list(csv.reader((tmp_path / "metrics.csv").open()))
    assert header[: len(CSV_COLUMNS)] == CSV_COLUMNS
    assert header[len(CSV_COLUMNS):] == ["val_iou_road", "val_iou_side_walk_x"]
    assert values[0] == "1" and values[-1] == "0.25"


def test_resume_takes_a_run_folder_or_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="no last.pt inside"):
        resume_checkpoint_path(tmp_path)
    with pytest.raises(EdgeUnetError, match="no such run folder"):
        resume_checkpoint_path(tmp_path / "nope")
    (tmp_path / "last.pt").write_bytes(b"x")
    assert resume_checkpoint_path(tmp_path) == tmp_path / "last.pt"
    assert resume_checkpoint_path(tmp_path / "last.pt") == tmp_path / "last.pt"


def test_stale_temp_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    for name in (".last.pt.abc.tmp", "snapshots/.epoch_001.png.x.tmp", "last.pt"):
        (tmp_path / name).write_bytes(b"x")
    remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["last.pt"]
