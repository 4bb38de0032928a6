"""`edgeunet inspect --trt VERSION` and build-engine's early TensorRT check, on the session's tiny exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from tests.conftest import assert_user_error, run_cli

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def uint8_onnx(tiny_run: Path, synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx_u8") / "uint8.onnx"
    proc = run_cli("export", tiny_run / "best.pt", "--out", out, "--parity-data", synth_data, "--io", "uint8")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def bool_cast_onnx(uint8_onnx: Path) -> Path:
    """The uint8 export with the FLOAT step before the final Cast removed: BOOL -> UINT8, as before defect 8's fix."""
    model = onnx.load(str(uint8_onnx))
    last = next(n for n in model.graph.node if n.output[0] == "output")
    to_float = next(n for n in model.graph.node if n.output[0] == last.input[0])
    last.input[0] = to_float.input[0]
    model.graph.node.remove(to_float)
    out = uint8_onnx.with_name("bool_cast.onnx")
    onnx.save(model, str(out))
    return out


def test_uint8_export_casts_through_float(uint8_onnx: Path) -> None:
    nodes = onnx.load(str(uint8_onnx)).graph.node
    first = next(n for n in nodes if "input" in n.input)
    assert first.op_type == "Cast" and first.attribute[0].i == onnx.TensorProto.FLOAT
    assert [n.op_type for n in nodes[-2:]] == ["Cast", "Cast"]  # onnxslim keeps the FLOAT step


@pytest.mark.parametrize("version", ["10.3", "11", "8.6"])
def test_uint8_export_passes(uint8_onnx: Path, version: str) -> None:
    proc = run_cli("inspect", uint8_onnx, "--trt", version, "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"TensorRT {version}" in proc.stdout and "nothing its ONNX parser would reject" in proc.stdout


def test_uint8_export_on_8_5_is_refused_with_strict(uint8_onnx: Path) -> None:
    proc = run_cli("inspect", uint8_onnx, "--trt", "8.5", "--strict")
    assert "TensorRT 8.5's ONNX parser has no UINT8 type" in proc.stdout
    assert_user_error(proc, "TensorRT would reject it (2 problem(s)")


def test_bool_to_uint8_cast_is_named_and_strict_fails(bool_cast_onnx: Path) -> None:
    proc = run_cli("inspect", bool_cast_onnx, "--trt", "10.3")
    assert proc.returncode == 0, proc.stderr
    assert "BOOL -> UINT8 is not supported by TensorRT 10.3 (UINT8 converts only from FLOAT/FLOAT16)" in proc.stdout
    assert_user_error(run_cli("inspect", bool_cast_onnx, "--trt", "10.3", "--strict"), "TensorRT would reject it")


def test_json_holds_the_check(tiny_onnx: Path, tmp_path: Path) -> None:
    import json

    proc = run_cli("inspect", tiny_onnx, "--trt", "11", "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    check = json.loads((tmp_path / "r.json").read_text())["tensorrt_check"]
    assert check["version"] == "11" and check["matrix"] == "10.1" and check["ok"] and check["notes"]


def test_bad_trt_version_is_one_line(tiny_onnx: Path) -> None:
    assert_user_error(run_cli("inspect", tiny_onnx, "--trt", "7"), "--trt 7: no TensorRT rules")


def test_build_engine_refuses_early_under_emulated_tensorrt(bool_cast_onnx: Path, tmp_path: Path) -> None:
    from tests.trtsim import subprocess_env

    proc = subprocess.run([sys.executable, "-m", "edgeunet", "build-engine", str(bool_cast_onnx), "--out", str(tmp_path / "m.engine")],
                          capture_output=True, text=True, timeout=300, env={**subprocess_env("10.3"), "PYTHONWARNINGS": "ignore"})
    assert_user_error(proc, "BOOL -> UINT8 is not supported by TensorRT 10.3")
    assert not (tmp_path / "m.engine").exists()
