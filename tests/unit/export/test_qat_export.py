"""After `train --qat`: the INT8 ONNX of a QAT checkpoint, gated against its fp32 source; refusals before any export.

The export itself needs NVIDIA ModelOpt (skipped without it); the refusals do not. The one export test is marked slow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict

import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.core.onnx_model import KEY_PRECISION, load_onnx, read_metadata  # noqa: E402
from edgeunet.data.synth import make_dataset  # noqa: E402
from edgeunet.export.qat_export import REFERENCE_NAME, export_and_gate_qat  # noqa: E402
from edgeunet.model.checkpoint import save_checkpoint  # noqa: E402
from tests.unit.train.test_qat import ARGS, _qat_payload  # noqa: E402


def _fp32_checkpoint(path: Path, payload: Dict[str, Any]) -> Path:
    """The fp32 run a QAT run started from: same architecture and spec, plain UNet weights."""
    from edgeunet.model.unet import UNet

    torch.manual_seed(0)
    fp32 = {key: value for key, value in payload.items() if key != "qat"}
    fp32["state_dict"] = UNet(**ARGS).state_dict()
    save_checkpoint(path, fp32)
    return path


def test_refusals_before_any_export(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="--max-drop -0.5"):
        export_and_gate_qat(tmp_path / "missing.pt", max_drop=-0.5)
    with pytest.raises(EdgeUnetError, match="no such checkpoint file"):
        export_and_gate_qat(tmp_path / "missing.pt")
    plain = _fp32_checkpoint(tmp_path / "best.pt", {"version": 1, "model": dict(ARGS), "spec": {}, "config": {}, "epoch": 1})
    with pytest.raises(EdgeUnetError, match="not a QAT checkpoint; export it with `edgeunet export` and calibrate the ONNX"):
        export_and_gate_qat(plain)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


@pytest.fixture()
def qat_run(tmp_path: Path) -> Path:
    pytest.importorskip("modelopt.torch.quantization", reason="NVIDIA ModelOpt: pip install 'edgeunet[qat]'")
    run = tmp_path / "run-qat"
    run.mkdir()
    payload = _qat_payload(steps=1)
    payload["qat"]["source"] = str(_fp32_checkpoint(tmp_path / "fp32.pt", payload))
    save_checkpoint(run / "best.pt", payload)
    return run


@pytest.mark.slow  # ~10 s of CPU (ModelOpt import, two exports); tests/integration/test_qat_cli.py runs it by default
def test_int8_onnx_gated_against_the_fp32_source(qat_run: Path, tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "cells", count=2, size=32, seed=0)
    result, gate = export_and_gate_qat(qat_run / "best.pt", max_drop=1.0, val_data=data)
    assert result.path == qat_run / "best.int8.onnx" and result.precision == "int8"
    assert read_metadata(load_onnx(result.path))[KEY_PRECISION] == "int8"
    reference = qat_run / REFERENCE_NAME  # kept, so the comparison can be repeated and benchmarked
    assert read_metadata(load_onnx(reference))[KEY_PRECISION] == "fp32"
    assert gate is not None and gate.passed and gate.images == 2 and gate.val_source == str(data)
    assert gate.reference == reference and gate.candidate == result.path


@pytest.mark.parametrize("source", ["moved/fp32.pt", None])
def test_a_missing_source_is_refused_before_writing_an_ungated_int8_file(tmp_path: Path, source: Any) -> None:
    """`train --qat` (or its resume) whose fp32 source was moved: the error names the way out, and no best.int8.onnx
    is left that looks like the run's gated result."""
    checkpoint = tmp_path / "best.pt"
    save_checkpoint(checkpoint, {"version": 1, "model": dict(ARGS), "spec": {}, "qat": {"library": "nvidia-modelopt", "source": source}})
    shown = source or "(unrecorded)"
    with pytest.raises(EdgeUnetError, match=rf"fp32 source {re.escape(shown)} is gone.*restore that file, or run `edgeunet export .*best.pt`"):
        export_and_gate_qat(checkpoint)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
