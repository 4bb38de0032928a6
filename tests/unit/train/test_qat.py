"""QAT (train/qat.py): the TensorRT Q/DQ scheme, the checkpoint round trip, and ONNX Runtime vs the fake-quant torch model.

Tiny synthetic networks (width 4, 32x32): each test takes seconds on a CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError  # noqa: E402
from edgeunet.core.spec import ModelSpec  # noqa: E402


def _modelopt_or_skip() -> None:
    try:
        import modelopt.torch.quantization  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"NVIDIA ModelOpt not installed ({exc}): pip install 'edgeunet[qat]'")


ARGS = {"in_channels": 1, "out_channels": 3, "width": 4, "depth": 2, "upsampling": "transpose"}


def _qat_payload(steps: int = 2) -> Dict[str, Any]:
    """A QAT checkpoint payload: random UNet, calibrated on noise, a few training steps through the fake quantizers."""
    from edgeunet.model.unet import UNet
    from edgeunet.train.qat import QAT_SCHEME, quantize_model

    torch.manual_seed(0)
    model = quantize_model(UNet(**ARGS), [torch.randn(2, 1, 32, 32) for _ in range(3)])
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 1, 32, 32)), torch.randint(0, 3, (2, 32, 32)))
        loss.backward()
        optimizer.step()
    spec = ModelSpec(in_channels=1, num_classes=3, class_names=["a", "b", "c"], input_size=[32, 32], mean=[0.0], std=[1.0],
                     size_multiple=4)
    return {"version": 1, "model": dict(ARGS), "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "spec": spec.to_dict(), "config": {}, "epoch": 1, "metrics": {}, "qat": {**QAT_SCHEME, "source": None}}


def test_scheme_is_tensorrt_qdq_placement() -> None:
    """Conv/ConvTranspose inputs per tensor, weights per channel on axis 0 (TensorRT's rule for both), nothing else."""
    _modelopt_or_skip()
    from edgeunet.model.unet import UNet
    from edgeunet.train.qat import quantize_model

    model = quantize_model(UNet(**ARGS), [torch.randn(1, 1, 32, 32)])
    enabled = {name: q for name, q in model.named_modules() if name.endswith("_quantizer") and q.is_enabled}
    convs = {name for name, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))}
    assert {name.rsplit(".", 1)[0] for name in enabled} == convs  # no MaxPool/BatchNorm/ReLU quantizer
    for name, quantizer in enabled.items():
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        assert quantizer.num_bits == 8 and not quantizer.unsigned
        if name.endswith("input_quantizer"):
            assert quantizer.axis is None
        else:
            assert quantizer.axis == 0, (name, type(owner).__name__)


def test_qat_onnx_agrees_with_fake_quant_torch(tmp_path: Path) -> None:
    """Acceptance: the exported Q/DQ ONNX gives the fake-quant torch model's classes on >= 99.9% of pixels, passes the
    TensorRT 10.3 check and carries the metadata of every export."""
    _modelopt_or_skip()
    import onnxruntime as ort

    from edgeunet.core.onnx_model import KEY_CALIBRATION, KEY_PRECISION, KEY_SPEC, KEY_TARGET, KEY_VAL_SPLIT, load_onnx, read_metadata
    from edgeunet.export.inspect import count_qdq, inspect_onnx
    from edgeunet.export.onnx_export import export_onnx
    from edgeunet.model.checkpoint import save_checkpoint
    from edgeunet.train.qat import rebuild_qat_model

    payload = _qat_payload()
    checkpoint = tmp_path / "best.pt"
    save_checkpoint(checkpoint, payload)
    result = export_onnx(checkpoint, parity_images=2)
    assert result.path == tmp_path / "best.int8.onnx" and result.precision == "int8"
    assert result.parity.mask_agreement >= 0.999

    torch_model = rebuild_qat_model(payload)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    agree = total = 0
    for _ in range(8):
        x = rng.normal(0, 1, (1, 1, 32, 32)).astype(np.float32)
        with torch.no_grad():
            ref = torch_model(torch.from_numpy(x)).numpy()
        got = session.run(None, {"input": x})[0]
        agree += int((ref.argmax(1) == got.argmax(1)).sum())
        total += ref.shape[0] * ref.shape[2] * ref.shape[3]
    assert agree / total >= 0.999, f"{agree / total:.5f}"

    report = inspect_onnx(result.path, trt="10.3")
    assert report.tensorrt_ok, report.all_problems
    summary = report.summary()
    assert summary["nonzero_zero_points"] == 0 and summary["activations_per_tensor"] == summary["activations_total"] > 0
    metadata = read_metadata(load_onnx(result.path))
    assert metadata[KEY_PRECISION] == "int8" and metadata[KEY_TARGET] == "tensorrt"
    assert {KEY_SPEC, KEY_VAL_SPLIT, KEY_CALIBRATION} <= set(metadata) and '"method": "qat"' in metadata[KEY_CALIBRATION]
    qdq = count_qdq(result.path)
    convs = sum(1 for m in torch_model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))
    assert qdq.pairs == 2 * convs  # one input and one weight pair per convolution, nothing else


def test_checkpoint_round_trip_restores_ranges() -> None:
    _modelopt_or_skip()
    from edgeunet.model.unet import UNet
    from edgeunet.train.qat import quantize_model, rebuild_qat_model

    payload = _qat_payload(steps=1)
    rebuilt = rebuild_qat_model(payload)
    original = quantize_model(UNet(**ARGS), [torch.zeros(1, 1, 32, 32)])
    original.load_state_dict(payload["state_dict"])
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), original.eval()(x))


def test_check_source_refuses_qat_and_foreign_checkpoints(tmp_path: Path) -> None:
    from edgeunet.model.unet import UNet
    from edgeunet.train.qat import check_source

    good = {"model": dict(ARGS), "state_dict": UNet(**ARGS).state_dict(), "spec": {}}
    check_source(tmp_path / "ok.pt", good)
    with pytest.raises(EdgeUnetError, match="already a QAT checkpoint"):
        check_source(tmp_path / "q.pt", {**good, "qat": {"library": "nvidia-modelopt"}})
    with pytest.raises(EdgeUnetError, match="another architecture"):
        check_source(tmp_path / "a.pt", {**good, "model": {"arch": "segformer"}})
    with pytest.raises(EdgeUnetError, match="another architecture"):
        check_source(tmp_path / "w.pt", {**good, "model": {**ARGS, "width": 8}})


def test_missing_modelopt_is_one_line_with_the_install_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.train import qat

    monkeypatch.setitem(sys.modules, "modelopt", None)
    monkeypatch.setitem(sys.modules, "modelopt.torch", None)
    monkeypatch.setitem(sys.modules, "modelopt.torch.quantization", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'edgeunet\[qat\]'") as info:
        qat.require_modelopt()
    assert "\n" not in str(info.value)
