"""Quantization-aware training (QAT): fine-tune an fp32 checkpoint with INT8 fake quantization where TensorRT puts Q/DQ.

Why QAT: post-training calibration (`edgeunet calibrate`) only picks ranges; when INT8 costs too much Dice, a few
epochs of training *through* the rounding let the weights adapt to it. The exported graph then carries the learnt
ranges as QuantizeLinear/DequantizeLinear pairs, and TensorRT builds it like any explicit-quantization ONNX.

The library is NVIDIA's maintained ModelOpt (`modelopt.torch.quantization`, the successor of pytorch-quantization):
`mtq.quantize` swaps Conv2d/ConvTranspose2d for quantized twins and calibrates their ranges with a forward loop
over training images (max calibration); training then updates weights through the straight-through estimator.
Checked on CPU with nvidia-modelopt 0.47.0 and torch 2.13 (docs/TENSORRT.md "NVIDIA ModelOpt on a CPU machine").

The scheme (QAT_SCHEME) is TensorRT's explicit-quantization rule set, not ModelOpt's default config: symmetric
INT8 (zero point 0), per-tensor activations on the inputs of Conv and ConvTranspose only (ModelOpt's default also
quantizes MaxPool inputs), per-channel weights on axis 0: the output channels of a Conv weight (out, in, kH, kW), and
the input channels of a ConvTranspose weight (in, out, kH, kW). Sources disagree on that last axis (docs/TENSORRT.md);
we follow TensorRT's kernels as NVIDIA's TensorRT team describes them (NVIDIA/TensorRT#2380: "the kernels assume
per-input-channel quant for ConvTranspose ... We don't support per-output-channel quant for ConvTranspose";
#1694: axis 1 gave wrong INT8 deconvolution results, axis 0 was the fix in pytorch-quantization), which is also
ModelOpt's torch default. ModelOpt's ONNX PTQ uses axis 1 (modelopt/onnx/quantization/operators.py) and
`edgeunet inspect` warns on quantized ConvTranspose weights either way: unverified on TensorRT hardware here.
BatchNorm stays in the graph: TensorRT folds it into the per-channel Conv weight scales.

A QAT checkpoint is an ordinary edgeunet checkpoint plus `qat` (scheme and source); `rebuild_qat_model` makes the
fake-quant network from it, for export (export/onnx_export.py) and for resuming.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

import torch

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.splits import training_paths
from edgeunet.model.checkpoint import load_checkpoint
from edgeunet.model.unet import UNet
from edgeunet.train.config import TrainConfig

INSTALL_HINT = "pip install 'edgeunet[qat]' (NVIDIA ModelOpt: nvidia-modelopt and huggingface_hub)"
CALIBRATION_IMAGES = 64  # training images whose activation ranges initialise the quantizers
QAT_LR_FACTOR = 0.01  # default fine-tuning rate: 1% of the original (NVIDIA's QAT guidance: ~1% LR, ~10% of the epochs)
QAT_EPOCH_FACTOR = 0.1  # default --epochs: 10% of the source run's
QAT_SCHEME: Dict[str, Any] = {
    "library": "nvidia-modelopt",
    "dtype": "int8",
    "symmetric": True,
    "activations": "per-tensor, inputs of Conv and ConvTranspose",
    "weights": "per-channel on axis 0 (Conv: output channels; ConvTranspose: input channels, as TensorRT's kernels expect)",
    "calibration": "max",
}


def require_modelopt() -> Any:
    """`modelopt.torch.quantization`, or a one-line error naming the install step (ModelOpt is the optional `qat` extra)."""
    try:
        with _quiet():
            import modelopt.torch.quantization as mtq
    except ImportError as exc:
        raise MissingDependencyError(f"--qat needs NVIDIA ModelOpt ({exc.name or exc} is missing): {INSTALL_HINT}") from None
    return mtq


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ModelOpt prints 'Inserted N quantizers' and warns about absent optional packages; the CLI says what matters."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def quant_config() -> Dict[str, Any]:
    """The ModelOpt config of QAT_SCHEME: everything off, then Conv/ConvTranspose inputs and weights on."""
    per_tensor = {"num_bits": 8, "axis": None}
    return {
        "quant_cfg": [
            {"quantizer_name": "*", "enable": False},
            {"quantizer_name": "*input_quantizer", "parent_class": "nn.Conv2d", "cfg": per_tensor},
            {"quantizer_name": "*weight_quantizer", "parent_class": "nn.Conv2d", "cfg": {"num_bits": 8, "axis": 0}},
            {"quantizer_name": "*input_quantizer", "parent_class": "nn.ConvTranspose2d", "cfg": per_tensor},
            {"quantizer_name": "*weight_quantizer", "parent_class": "nn.ConvTranspose2d", "cfg": {"num_bits": 8, "axis": 0}},
        ],
        "algorithm": "max",
    }


def quantize_model(model: torch.nn.Module, batches: Sequence[torch.Tensor]) -> torch.nn.Module:
    """Insert the fake quantizers into `model` (in place) and calibrate their ranges on `batches` (eval mode, no grad)."""
    mtq = require_modelopt()
    was_training = model.training
    model.eval()

    def forward_loop(net: torch.nn.Module) -> None:
        with torch.no_grad():
            for batch in batches:
                net(batch)

    with _quiet():
        quantized = mtq.quantize(model, quant_config(), forward_loop=forward_loop)
    quantized.train(was_training)
    return quantized


def is_qat_checkpoint(payload: Dict[str, Any]) -> bool:
    return bool(payload.get("qat"))


def check_source(path: Path, payload: Dict[str, Any]) -> None:
    """--from must be an fp32 edgeunet UNet checkpoint whose weights fit the network it describes."""
    if is_qat_checkpoint(payload):
        raise EdgeUnetError(f"--from {path}: is already a QAT checkpoint; pass the fp32 best.pt it was fine-tuned from")
    args = payload.get("model")
    state = payload.get("state_dict")
    if not isinstance(args, dict) or not isinstance(state, dict) or "spec" not in payload:
        raise EdgeUnetError(f"--from {path}: holds no edgeunet UNet (model arguments, weights and spec); pass best.pt of an edgeunet run")
    try:
        UNet(**args).load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise EdgeUnetError(f"--from {path}: another architecture than edgeunet's UNet ({first}); pass best.pt of an edgeunet run") from None


def rebuild_qat_model(payload: Dict[str, Any]) -> torch.nn.Module:
    """The fake-quant UNet of a QAT checkpoint, in eval mode on the CPU (for export and parity checks).

    The quantizers are created by one forward pass on zeros (their range buffers exist only after calibration) and
    then overwritten by the checkpoint's learnt ranges; `strict` loading proves every range was restored.
    """
    spec = ModelSpec.from_dict(payload["spec"])
    height, width = spec.input_size
    model = quantize_model(UNet(**payload["model"]), [torch.zeros((1, spec.in_channels, height, width))])
    model.load_state_dict(payload["state_dict"], strict=True)
    return model.eval()


def calibration_batches(images: Sequence[Any], spec: ModelSpec) -> List[torch.Tensor]:
    """Normalised 1xCxHxW tensors of (model-size, model-channel) training images, as the training loop feeds them."""
    from edgeunet.core.processing import normalize

    return [torch.from_numpy(normalize(image, spec)).unsqueeze(0) for image in images]


def qat_config(source: Path, overrides: Dict[str, Any]) -> tuple[TrainConfig, Dict[str, Any]]:
    """The fine-tuning run's settings: the source run's config, its data as absolute paths, and what the user overrode.

    Keeping data, split ratio and seed makes the QAT run validate (and the gate score) on the images the fp32 run
    never trained on. Defaults that differ: --out RUN-qat beside the source run, --lr 1% and --epochs 10% of the source's.
    """
    payload = load_checkpoint(source)
    check_source(source, payload)
    values = dict(payload.get("config") or {})
    values.update({k: v for k, v in training_paths(source, values).items() if v})
    values.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("epochs") is None:
        values["epochs"] = max(1, round(int(values.get("epochs") or 10) * QAT_EPOCH_FACTOR))
    if overrides.get("lr") is None:
        values["lr"] = float(values.get("lr") or 1e-3) * QAT_LR_FACTOR
    if not overrides.get("out"):
        values["out"] = str(source.parent) + "-qat"
    values["qat_from"] = str(source.resolve())
    values["ema"] = False
    return TrainConfig.from_dict(values), payload
