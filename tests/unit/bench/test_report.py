"""bench.report: every writer keeps unavailable rows and writes atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from edgeunet.bench import report as bench
from tests.unit.bench.sample_report import REPORT


def test_unavailable_rows_are_kept_in_every_report(tmp_path: Path) -> None:
    bench.write_json(REPORT, tmp_path / "r.json")
    bench.write_csv(REPORT, tmp_path / "r.csv")
    bench.write_markdown(REPORT, tmp_path / "r.md", command="edgeunet bench m.pt")
    bench.write_plot(REPORT, tmp_path / "r.png")
    assert json.loads((tmp_path / "r.json").read_text())["rows"][4]["status"] == "unavailable"
    assert "unavailable" in (tmp_path / "r.csv").read_text()
    md = (tmp_path / "r.md").read_text()
    assert "unavailable: TensorRT not found" in md and "edgeunet bench m.pt" in md
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(os.listdir(tmp_path)) == ["r.csv", "r.json", "r.md", "r.png"]  # no temporary files left


def test_writers_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing leaves the old file untouched (write to a temp name, then rename)."""
    target = tmp_path / "r.png"
    target.write_bytes(b"old")

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", boom)
    with pytest.raises(RuntimeError):
        bench.write_plot(REPORT, target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["r.png"]


def test_long_reasons_become_footnotes() -> None:
    rows, notes = bench._footnoted(bench.table_rows(REPORT))
    assert rows[4]["status"] == "unavailable [1]" and notes == ["[1] unavailable: TensorRT not found: install it"]
    assert "pipe FPS" not in bench._columns(rows)  # no --video: the empty column is dropped


def test_write_reports_writes_only_what_was_asked(tmp_path: Path) -> None:
    written = bench.write_reports(REPORT, json_out=tmp_path / "r.json", md_out=tmp_path / "r.md", command="edgeunet bench m.pt")
    assert written == [f"JSON {tmp_path / 'r.json'}", f"Markdown {tmp_path / 'r.md'}"]
    assert sorted(os.listdir(tmp_path)) == ["r.json", "r.md"]
    assert bench.write_reports(REPORT) == []
