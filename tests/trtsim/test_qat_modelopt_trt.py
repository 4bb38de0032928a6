"""The INT8 graphs of `train --qat` and `calibrate --engine modelopt` through build-engine under each TensorRT emulator.

Proves the build path takes them as explicit-quantization graphs (no calibrator, the sidecar says int8) and that the
ModelOpt graph's opset 19 is refused in one line by TensorRT 8.5 (JetPack 5), whose parser stops at opset 17.
What passes here is protocol, never engine accuracy (the emulator computes with ONNX Runtime).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.trtsim import installed
from tests.trtsim.fixtures import PURGE
from tests.trtsim.test_cli_trt import cli, ok, one_line_error


@pytest.fixture(scope="module")
def modelopt_onnx(tiny_onnx: Path, synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        from edgeunet.export.int8 import Int8Options, quantize_and_gate
        from edgeunet.export.modelopt_ptq import require_modelopt_onnx

        require_modelopt_onnx()
    except Exception as exc:  # noqa: BLE001 - any missing piece of the optional extra skips
        pytest.skip(f"NVIDIA ModelOpt's ONNX tools not installed ({exc})")
    folder = tmp_path_factory.mktemp("modelopt")
    out = folder / "tiny.int8-modelopt.onnx"
    quantize_and_gate(tiny_onnx, synth_data, out, Int8Options(engine="modelopt", num_images=4, method="minmax", gate=False,
                                                             manifest_dir=folder / "calibration"))
    return out


@pytest.mark.parametrize("version", ["8.5", "10.3", "11"])
def test_qat_onnx_builds_as_explicit_int8(version: str, capsys: Any, tiny_qat_run: Path, tmp_path: Path) -> None:
    onnx = shutil.copy(tiny_qat_run / "best.int8.onnx", tmp_path / "qat.int8.onnx")
    with installed(version, purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--int8", "--max-drop", "1"))
    sidecar = json.loads((tmp_path / "qat.int8.engine.json").read_text())
    assert sidecar["precision"] == "int8" and sidecar["build"]["calibrator"] == "qdq"


@pytest.mark.parametrize("version", ["10.3", "11"])
def test_modelopt_onnx_builds_on_10_and_11(version: str, capsys: Any, modelopt_onnx: Path, tmp_path: Path) -> None:
    onnx = shutil.copy(modelopt_onnx, tmp_path / "mo.int8.onnx")
    with installed(version, purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--int8", "--max-drop", "1"))
    assert json.loads((tmp_path / "mo.int8.engine.json").read_text())["precision"] == "int8"


def test_modelopt_onnx_opset_19_is_refused_by_8_5(capsys: Any, modelopt_onnx: Path, tmp_path: Path) -> None:
    onnx = shutil.copy(modelopt_onnx, tmp_path / "mo.int8.onnx")
    with installed("8.5", purge=PURGE):
        one_line_error(cli(capsys, "build-engine", onnx, "--int8"), "opset 19")
