"""`edgeunet bench` as a verb: one small fp32 ONNX Runtime row with its files, and one-line refusals of unknown names.

Every precision, backend and the decision step are in tests/unit/bench and tests/integration/test_bench_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.data.synth import make_dataset
from tests.unit.cli.invoke import cli, ok, one_line_error
from tests.unit.tiny_graphs import threshold_onnx


def test_one_row_with_accuracy_and_the_report_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = threshold_onnx(tmp_path / "m.onnx")
    data = make_dataset(tmp_path / "cells", count=2, size=32, seed=0)
    out = ok(cli(capsys, "bench", model, "--precisions", "fp32", "--backends", "onnxruntime", "--data", data, "--warmup", "1",
                 "--iterations", "3", "--device", "cpu", "--json", tmp_path / "b.json", "--md", tmp_path / "b.md"))
    assert f"wrote JSON {tmp_path / 'b.json'}" in out  # (the table's width follows the terminal: read the JSON)
    report = json.loads((tmp_path / "b.json").read_text())
    rows = [row for row in report["rows"] if row.get("status", "ok") == "ok"]
    assert len(rows) == 1 and rows[0]["precision"] == "fp32" and rows[0]["backend"] == "onnxruntime"
    assert rows[0]["dice"] is not None and 0 < rows[0]["dice"] < 1
    assert (tmp_path / "b.md").read_text().strip()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--precisions", "fp64"], "fp64"),
    (["--backends", "onnxruntme"], "onnxruntme"),
    (["--iterations", "0"], "--iterations"),
])
def test_unknown_names_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list, fragment: str) -> None:
    one_line_error(cli(capsys, "bench", threshold_onnx(tmp_path / "m.onnx"), *args), fragment)
