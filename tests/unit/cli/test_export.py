"""`edgeunet export|convert|inspect` as verbs: the lines they print, the files they write, one-line refusals.

(`calibrate` and `build-engine` are exercised in tests/integration and tests/trtsim.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.invoke import cli, ok, one_line_error
from tests.unit.tiny_graphs import qdq_onnx, threshold_onnx


def test_export_prints_the_file_and_the_parity_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tests.unit.export.test_onnx_export import _checkpoint

    checkpoint = _checkpoint(tmp_path / "best.pt")
    lines = ok(cli(capsys, "export", checkpoint, "--out", tmp_path / "m.onnx", "--batch", "2")).splitlines()
    assert lines[0].startswith(f"wrote {tmp_path / 'm.onnx'} (fp32, opset 17, io float, 2x32x32, ") and lines[0].endswith(" nodes)")
    assert lines[1].startswith("parity vs torch on ") and "random noise" in lines[1]
    one_line_error(cli(capsys, "export", checkpoint, "--opset", "12"), "--opset")
    one_line_error(cli(capsys, "export", checkpoint, "--dynamic", "--size", "32", "32"), "exclude each other")


def test_convert_needs_a_conversion_and_gates_fp16(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("onnxconverter_common")
    from edgeunet.data.synth import make_dataset

    model = threshold_onnx(tmp_path / "m.onnx")
    one_line_error(cli(capsys, "convert", model), "choose a conversion: --fp16")
    data = make_dataset(tmp_path / "cells", count=2, size=32, seed=0)
    out = ok(cli(capsys, "convert", model, "--fp16", "--val-data", data))
    assert f"wrote {tmp_path / 'm.fp16.onnx'}" in out and "passed" in out
    one_line_error(cli(capsys, "convert", model, "--fp16", "--out", tmp_path / "x.onnx"), "no validation images known")
    assert not (tmp_path / "x.onnx").exists()


def test_inspect_reports_and_strict_refuses_what_tensorrt_would(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = qdq_onnx(tmp_path / "good.onnx")
    out = ok(cli(capsys, "inspect", good, "--strict", "--json", tmp_path / "good.json"))
    assert "ops: Conv x2" in out and f"wrote {tmp_path / 'good.json'}" in out
    assert json.loads((tmp_path / "good.json").read_text())
    bad = qdq_onnx(tmp_path / "bad.onnx", zero_point=3)
    code, out, err = cli(capsys, "inspect", bad, "--strict")
    assert "TensorRT would reject (8)" in out and "zero point" in out  # the problems are listed on stdout first
    one_line_error((code, out, err), "TensorRT would reject it (8 problem(s), listed above)")
    ok(cli(capsys, "inspect", bad))  # without --strict it is a report, not a failure
