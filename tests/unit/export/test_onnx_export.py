"""Checkpoint -> ONNX: refusals before tracing, BatchNorm folded, metadata, parity with torch, float/uint8/dynamic I/O.

A width-4, depth-2 UNet at 32x32 with random weights: each export takes about a second on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.core.onnx_model import (  # noqa: E402
    KEY_CHECKPOINT_SHA,
    KEY_DATA_STATS,
    KEY_EXPORT,
    KEY_IO,
    KEY_PRECISION,
    KEY_TARGET,
    load_onnx,
    read_metadata,
    read_spec,
)
from edgeunet.core.spec import ModelSpec  # noqa: E402
from edgeunet.data.synth import make_dataset  # noqa: E402
from edgeunet.export.onnx_export import export_onnx  # noqa: E402
from edgeunet.model.checkpoint import save_checkpoint  # noqa: E402

ARGS = {"in_channels": 1, "out_channels": 1, "width": 4, "depth": 2, "upsampling": "transpose"}


def _checkpoint(path: Path, **extra: Any) -> Path:
    from edgeunet.model.unet import UNet

    torch.manual_seed(0)
    spec = ModelSpec(in_channels=1, num_classes=2, input_size=[32, 32], mean=[0.4], std=[0.2], size_multiple=4)
    payload: Dict[str, Any] = {"version": 1, "model": dict(ARGS), "state_dict": UNet(**ARGS).state_dict(), "spec": spec.to_dict(),
                               "config": {}, "epoch": 3, "metrics": {"val_dice": 0.5}, **extra}
    save_checkpoint(path, payload)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _checkpoint(tmp_path_factory.mktemp("export") / "best.pt", data_stats={"format": 1, "images": 3})


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("export") / "cells", count=2, size=32, seed=0)


@pytest.mark.parametrize(("options", "fragment"), [
    ({"out": "model.pb"}, "model.pb: the file name must end in .onnx"),
    ({"io": "int8"}, "--io int8: choose float or uint8"),
    ({"opset": 12}, "--opset 12: choose 13..21"),
    ({"opset": 22}, "--opset 22: choose 13..21"),
    ({"batch": 0}, "--batch 0: must be at least 1"),
    ({"dynamic": True, "size": (32, 32)}, "--size and --dynamic exclude each other"),
    ({"size": (8, 32)}, "--size 8 32: both sides must be at least 16"),
])
def test_refusals_before_tracing_leave_no_file(checkpoint: Path, tmp_path: Path, options: Dict[str, Any], fragment: str) -> None:
    options = {**options, "out": tmp_path / options.get("out", "m.onnx")}
    with pytest.raises(EdgeUnetError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        export_onnx(checkpoint, **options)
    assert list(tmp_path.iterdir()) == []


def test_a_qat_checkpoint_keeps_float_io(tmp_path: Path) -> None:
    qat = _checkpoint(tmp_path / "qat.pt", qat={"library": "nvidia-modelopt"})
    with pytest.raises(EdgeUnetError, match="a QAT checkpoint exports with float I/O only; drop --io uint8"):
        export_onnx(qat, io="uint8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qat.pt"]


def test_float_export_folds_batchnorm_and_carries_metadata(checkpoint: Path, cells: Path, tmp_path: Path) -> None:
    result = export_onnx(checkpoint, tmp_path / "m.onnx", parity_data=cells, parity_images=2)
    assert result.path == tmp_path / "m.onnx" and result.precision == "fp32" and result.opset == 17
    assert "BatchNormalization" not in result.nodes and result.nodes.get("Conv", 0) > 0
    assert result.parity.images == 2 and result.parity.source == str(cells) and result.parity.mask_agreement >= 0.999
    assert result.parity.max_abs_dprob is not None and result.parity.max_abs_dprob < 1e-4
    assert "mask agreement" in result.parity.line() and "\n" not in result.parity.line()
    meta = read_metadata(load_onnx(result.path))
    assert (meta[KEY_PRECISION], meta[KEY_TARGET], meta[KEY_IO]) == ("fp32", "any", "float")
    assert len(meta[KEY_CHECKPOINT_SHA]) == 64 and json.loads(meta[KEY_DATA_STATS]) == {"format": 1, "images": 3}
    assert json.loads(meta[KEY_EXPORT])["parity"]["images"] == 2
    assert read_spec(result.path).input_size == [32, 32]


def test_default_name_noise_parity_and_size(checkpoint: Path, tmp_path: Path) -> None:
    """No data folder known (the run's data is gone): parity on noise, and the line says how to do better."""
    copy = tmp_path / "best.pt"
    copy.write_bytes(checkpoint.read_bytes())
    result = export_onnx(copy, size=(48, 64), parity_images=1)
    assert result.path == tmp_path / "best.onnx" and read_spec(result.path).input_size == [48, 64]
    assert result.parity.source.startswith("random noise") and "--parity-data" in result.parity.source


def test_uint8_io_takes_pixels_and_gives_the_same_masks(checkpoint: Path, cells: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    result = export_onnx(checkpoint, tmp_path / "m.uint8.onnx", io="uint8", parity_data=cells, parity_images=2)
    assert result.spec.io == "uint8" and result.parity.max_abs_dprob is None and result.parity.mask_agreement >= 0.999
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    (graph_input,), (graph_output,) = session.get_inputs(), session.get_outputs()
    assert graph_input.type == "tensor(uint8)" and graph_input.shape == [1, 32, 32, 1]
    assert graph_output.type == "tensor(uint8)" and graph_output.shape == [1, 32, 32]
    assert read_metadata(load_onnx(result.path))[KEY_IO] == "uint8"


def test_dynamic_export_runs_at_another_size_and_batch(checkpoint: Path, cells: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    result = export_onnx(checkpoint, tmp_path / "d.onnx", dynamic=True, parity_data=cells, parity_images=1)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [isinstance(d, str) for d in session.get_inputs()[0].shape] == [True, False, True, True]
    out = session.run(None, {"input": np.zeros((2, 1, 48, 64), np.float32)})[0]
    assert out.shape == (2, 1, 48, 64)
    assert json.loads(read_metadata(load_onnx(result.path))[KEY_EXPORT])["batch"] == "dynamic"
