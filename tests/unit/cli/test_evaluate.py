"""`edgeunet evaluate` and `edgeunet infer` on a hand-built ONNX: the table, the files asked for, one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.data.synth import make_dataset
from tests.unit.cli.invoke import cli, ok, one_line_error
from tests.unit.tiny_graphs import threshold_onnx


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("cli-eval") / "cells", count=3, size=32, seed=0)


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return threshold_onnx(tmp_path / "cells.onnx")


def test_evaluate_prints_the_table_and_writes_what_was_asked(capsys: pytest.CaptureFixture[str], cells: Path, model: Path,
                                                             tmp_path: Path) -> None:
    out = ok(cli(capsys, "evaluate", model, "--data", cells, "--json", tmp_path / "m.json", "--confusion", tmp_path / "c.png",
                 "--save-predictions", tmp_path / "pred", "--backend", "onnxruntime", "--device", "cpu"))
    assert f"{cells} (3 images)" in out and "cells.onnx" in out
    assert f"wrote {tmp_path / 'm.json'}" in out and f"wrote {tmp_path / 'c.png'}" in out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["images"] == 3 and 0 < metrics["dice"] < 1 and metrics["backend"] == "onnxruntime"
    assert (tmp_path / "c.png").stat().st_size > 0 and len(list((tmp_path / "pred" / "masks").iterdir())) == 3


def test_evaluate_refusals(capsys: pytest.CaptureFixture[str], cells: Path, model: Path, tmp_path: Path) -> None:
    one_line_error(cli(capsys, "evaluate", model, "--data", cells, "--confusion", tmp_path / "c.jpg"), "give a .png file name")
    one_line_error(cli(capsys, "evaluate", model), "--data")  # click's own usage error, as one line
    one_line_error(cli(capsys, "evaluate", tmp_path / "missing.onnx", "--data", cells), "missing.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.onnx"]


def test_infer_says_where_the_masks_are(capsys: pytest.CaptureFixture[str], cells: Path, model: Path, tmp_path: Path) -> None:
    out = ok(cli(capsys, "infer", model, cells, "--out", tmp_path / "out", "--no-overlays", "--device", "cpu"))
    assert out.strip() == (f"wrote 3 mask(s) to {tmp_path / 'out'} (onnxruntime, fp32); "
                           f"class areas in {tmp_path / 'out' / 'areas.json'}")
    assert not (tmp_path / "out" / "overlays").exists()


def test_infer_refusals(capsys: pytest.CaptureFixture[str], cells: Path, model: Path, tmp_path: Path) -> None:
    one_line_error(cli(capsys, "infer", model, "--out", tmp_path / "o"), "inputs")
    one_line_error(cli(capsys, "infer", model, tmp_path / "nope.png", "--out", tmp_path / "o"), "no such file or folder")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("keep")
    one_line_error(cli(capsys, "infer", model, cells, "--out", tmp_path / "taken"), "already exists")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["x"] and not (tmp_path / "o").exists()
