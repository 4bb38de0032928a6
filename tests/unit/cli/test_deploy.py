"""`edgeunet export-triton|export-deepstream|doctor` as verbs: the lines they print and click's one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.version import __version__
from tests.unit.cli.invoke import cli, ok, one_line_error
from tests.unit.tiny_graphs import threshold_onnx


def test_export_triton_prints_what_it_wrote_and_how_to_serve(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="pip install 'edgeunet[triton]'")
    model = threshold_onnx(tmp_path / "cells.onnx", batch="batch")
    lines = ok(cli(capsys, "export-triton", model, "--repo", tmp_path / "repo", "--max-batch", "4", "--dynamic-batching")).splitlines()
    assert lines[0].startswith(f"wrote {tmp_path / 'repo'}/ (onnxruntime_onnx, max_batch_size 4)")
    assert "tritonserver" in lines[1] and (tmp_path / "repo" / "cells" / "1" / "model.onnx").is_file()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--max-batch", "-1"], "--max-batch"),
    (["--instances", "0"], "--instances"),
    (["--max-queue-delay", "10"], "--max-queue-delay is a dynamic batching setting"),
])
def test_export_triton_refusals(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list, fragment: str) -> None:
    pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="pip install 'edgeunet[triton]'")
    one_line_error(cli(capsys, "export-triton", threshold_onnx(tmp_path / "m.onnx"), "--repo", tmp_path / "repo", *args), fragment)
    assert not (tmp_path / "repo").exists()


def test_export_deepstream_writes_a_config_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = ok(cli(capsys, "export-deepstream", threshold_onnx(tmp_path / "cells.onnx"), "--out", tmp_path / "ds", "--fp16"))
    assert str(tmp_path / "ds") in out and any(p.suffix == ".txt" for p in (tmp_path / "ds").iterdir())
    one_line_error(cli(capsys, "export-deepstream", tmp_path / "cells.onnx", "--out", tmp_path / "d2", "--batch-size", "0"),
                   "--batch-size")


def test_doctor_names_the_version_first(capsys: pytest.CaptureFixture[str]) -> None:
    lines = ok(cli(capsys, "doctor")).splitlines()
    assert lines[0] == f"edgeunet {__version__} doctor" and len(lines) > 3
