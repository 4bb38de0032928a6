"""Checkpoint -> ONNX: export, checker, simplification, BatchNorm folding, metadata, parity check.

Exporter choice (checked on torch 2.13): `torch.onnx.export` defaults to the torch.export-based
exporter (`dynamo=True`), which needs the extra `onnxscript` package and rewrites the graph through
a different optimiser. For a plain CNN the TorchScript exporter (`dynamo=False`) is the robust,
dependency-free path; with `do_constant_folding=True` in eval mode it folds every BatchNorm into the
preceding Conv, and onnxslim then removes what is left to simplify. We verify both: no
BatchNormalization node may remain, and ORT must match torch on real images (the parity check).

`--io uint8` wraps the network in `UInt8IO`: uint8 NHWC pixels at model size in, normalisation
inside, uint8 class mask out (threshold for binary, ArgMax for multi-class). The edge then does no
float work on the host and moves 4x fewer bytes each way.

torch is imported inside functions only: importing this module costs nothing on the edge.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import (
    KEY_CALIBRATION,
    KEY_CHECKPOINT_SHA,
    KEY_DATA_STATS,
    KEY_EXPORT,
    KEY_IO,
    KEY_PRECISION,
    KEY_SPEC,
    KEY_TARGET,
    KEY_VAL_METRICS,
    KEY_VAL_SPLIT,
    save_onnx,
    set_metadata,
)
from edgeunet.core.spec import ModelSpec
from edgeunet.data.splits import split_record, training_paths

INPUT_NAME = "input"
OUTPUT_NAME = "output"
DEFAULT_OPSET = 17
MIN_OPSET = 13  # per-channel Q/DQ (TensorRT INT8) needs 13; nothing older is worth supporting


@dataclass
class Parity:
    """ORT vs torch on the same preprocessed images. `max_abs_dprob` is None for uint8 I/O (no probabilities)."""

    images: int
    source: str
    max_abs_dprob: Optional[float]
    mask_agreement: float

    def line(self) -> str:
        dp = "n/a (uint8 output)" if self.max_abs_dprob is None else f"{self.max_abs_dprob:.2e}"
        return f"parity vs torch on {self.images} image(s) from {self.source}: max|Δp| {dp}, mask agreement {self.mask_agreement:.4%}"


@dataclass
class ExportResult:
    path: Path
    spec: ModelSpec
    opset: int
    nodes: Dict[str, int]
    parity: Parity
    notes: List[str] = field(default_factory=list)
    precision: str = "fp32"  # int8 for a QAT checkpoint


def _torch() -> Any:
    from edgeunet.model.checkpoint import require_torch

    return require_torch()


def make_uint8_module(model: Any, spec: ModelSpec) -> Any:
    """Wrap a float UNet so the graph takes uint8 NHWC pixels and returns a uint8 NxHxW class mask.

    The arithmetic mirrors processing.normalize + postprocess exactly (x * 1/(255 std) - mean/std,
    logits > logit(threshold) or argmax), so masks agree with the float-I/O model. The UINT8 tensors touch
    only Casts from/to FLOAT, the one conversion TensorRT allows for UINT8 (export/trt_compat.py checks it).
    """
    torch = _torch()
    from edgeunet.core.processing import logit_threshold

    std = np.asarray(spec.std, dtype=np.float32)
    mean = np.asarray(spec.mean, dtype=np.float32)

    class UInt8IO(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = model
            self.register_buffer("scale", torch.from_numpy(1.0 / (255.0 * std)).view(1, -1, 1, 1))
            self.register_buffer("offset", torch.from_numpy(-mean / std).view(1, -1, 1, 1))
            self.binary = spec.is_binary
            self.cut = float(logit_threshold(spec))

        def forward(self, pixels: Any) -> Any:
            # TensorRT converts UINT8 only to/from FLOAT/HALF (NvInferRuntimeBase.h kUINT8): cast before the transpose,
            # and make the mask FLOAT before the final cast (BOOL/INT64 -> UINT8 would be refused).
            x = pixels.float().permute(0, 3, 1, 2) * self.scale + self.offset
            logits = self.net(x)
            if self.binary:
                mask = (logits[:, 0] > self.cut).float()
            else:
                mask = logits.argmax(dim=1).float()
            return mask.to(torch.uint8)

    return UInt8IO().eval()


def _parity_images(
    checkpoint: Path, payload: Dict[str, Any], parity_data: Optional[Path], count: int
) -> tuple[List[np.ndarray], str]:
    """Real images for the parity check: --parity-data, else the training run's data folder, else noise."""
    from edgeunet.core.images import read_image
    from edgeunet.data.dataset import find_samples

    candidates: List[Path] = []
    if parity_data is not None:
        candidates = [Path(parity_data)]
    else:
        paths = training_paths(checkpoint, payload.get("config") or {})
        candidates = [Path(p) for p in (paths["val_data"], paths["data"]) if p]
    for folder in candidates:
        try:
            samples = find_samples(folder, require_masks=False)
        except EdgeUnetError:
            if parity_data is not None:
                raise
            continue
        picked = samples[:: max(1, len(samples) // count)][:count]
        return [read_image(s.image) for s in picked], str(folder)
    rng = np.random.default_rng(0)
    spec = ModelSpec.from_dict(payload["spec"])
    h, w = spec.input_size
    shape = (h, w) if spec.in_channels == 1 else (h, w, 3)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(count)], "random noise (no data folder found; pass --parity-data)"


def _check_parity(
    onnx_bytes: bytes, torch_model: Any, float_spec: ModelSpec, spec: ModelSpec, images: Sequence[np.ndarray], source: str, batch: int
) -> Parity:
    """Run torch (float, CPU) and ORT on the same preprocessed images; compare probabilities and masks."""
    import onnxruntime as ort

    from edgeunet.core.processing import postprocess, preprocess, probabilities

    torch = _torch()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    max_dp: Optional[float] = 0.0
    agree = 0
    total = 0
    for image in images:
        x_float = preprocess(image, float_spec)
        with torch.inference_mode():
            ref = torch_model(torch.from_numpy(np.repeat(x_float, batch, axis=0))).numpy()[:1]
        x = preprocess(image, spec)
        got = session.run(None, {INPUT_NAME: np.repeat(x, batch, axis=0)})[0][:1]
        if spec.io == "float":
            dp = float(np.abs(probabilities(got, spec) - probabilities(ref, spec)).max())
            max_dp = max(max_dp or 0.0, dp)
        else:
            max_dp = None
        mask_ref = postprocess(ref, float_spec)
        mask_got = postprocess(got, spec)
        agree += int((mask_ref == mask_got).sum())
        total += mask_ref.size
    return Parity(images=len(images), source=source, max_abs_dprob=max_dp, mask_agreement=agree / max(total, 1))


def export_onnx(
    checkpoint: Path | str,
    out: Optional[Path | str] = None,
    size: Optional[Sequence[int]] = None,
    dynamic: bool = False,
    batch: int = 1,
    opset: int = DEFAULT_OPSET,
    io: str = "float",
    simplify: bool = True,
    parity_data: Optional[Path] = None,
    parity_images: int = 4,
) -> ExportResult:
    """Export CHECKPOINT to a self-contained ONNX with our metadata; verify it against torch.

    Static shapes by default (TensorRT and DLA are fastest with them); `dynamic` makes batch, height
    and width symbolic. Heights/widths of a dynamic graph must be multiples of 2**depth (16 for the
    default depth): the traced graph keeps the model's padding decision from the export size.

    A QAT checkpoint (`edgeunet train --qat`) exports its fake-quant network as an INT8 Q/DQ graph for TensorRT
    (precision int8, target tensorrt, default name CHECKPOINT.int8.onnx); parity is then checked against that
    fake-quant torch model, and BatchNorm stays in the graph (TensorRT folds it into the per-channel weight scales).
    """
    torch = _torch()
    from edgeunet.model.checkpoint import load_checkpoint

    checkpoint = Path(checkpoint)
    payload = load_checkpoint(checkpoint)
    qat = bool(payload.get("qat"))
    out = Path(out) if out is not None else checkpoint.with_suffix(".int8.onnx" if qat else ".onnx")
    _check_options(checkpoint, out, io, opset, batch, dynamic, size is not None, qat)
    float_spec, spec = _specs(payload, checkpoint, size, io)
    model = _trace(payload, spec, batch, opset, dynamic)
    notes: List[str] = []
    if simplify:
        model = _simplify(model, notes)
    ops = _op_counts(model, qat)
    _set_model_metadata(model, checkpoint, payload, spec, qat)
    export_info: Dict[str, Any] = {"opset": opset, "dynamic": dynamic, "batch": "dynamic" if dynamic else batch,
                                   "exporter": f"torch {torch.__version__} torchscript (dynamo=False)", "simplified": simplify}
    images, source = _parity_images(checkpoint, payload, parity_data, parity_images)
    parity = _check_parity(model.SerializeToString(), _network(payload), float_spec, spec, images, source, 1 if dynamic else batch)
    export_info["parity"] = asdict(parity)
    set_metadata(model, {KEY_EXPORT: export_info})
    save_onnx(model, out)
    return ExportResult(path=out, spec=spec, opset=opset, nodes=ops, parity=parity, notes=notes, precision="int8" if qat else "fp32")


def _check_options(checkpoint: Path, out: Path, io: str, opset: int, batch: int, dynamic: bool, sized: bool, qat: bool) -> None:
    """Every export option a user can get wrong, refused in one line before anything is traced."""
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx")
    if io not in ("float", "uint8"):
        raise EdgeUnetError(f"--io {io}: choose float or uint8")
    if not MIN_OPSET <= opset <= 21:
        raise EdgeUnetError(f"--opset {opset}: choose {MIN_OPSET}..21 (TensorRT INT8 needs >= 13; default {DEFAULT_OPSET})")
    if batch < 1:
        raise EdgeUnetError(f"--batch {batch}: must be at least 1")
    if dynamic and sized:
        raise EdgeUnetError("--size and --dynamic exclude each other: a dynamic graph takes any size (multiples of 16)")
    if qat and io != "float":
        raise EdgeUnetError(f"{checkpoint}: a QAT checkpoint exports with float I/O only; drop --io {io}")


def _specs(payload: Dict[str, Any], checkpoint: Path, size: Optional[Sequence[int]], io: str) -> Tuple[ModelSpec, ModelSpec]:
    """(the float-I/O spec torch is compared in, the exported graph's spec) at the export size."""
    from edgeunet.model.checkpoint import spec_of

    float_spec = spec_of(payload, str(checkpoint))
    float_spec.io = "float"
    if size is not None:
        height, width = (int(v) for v in size)
        if min(height, width) < 16:
            raise EdgeUnetError(f"--size {height} {width}: both sides must be at least 16")
        float_spec = float_spec.with_input_size((height, width), str(checkpoint))
    return float_spec, float_spec.replaced(str(checkpoint), io=io)


def _trace(payload: Dict[str, Any], spec: ModelSpec, batch: int, opset: int, dynamic: bool) -> Any:
    """The checkpoint's network (uint8 I/O wrapped when asked) traced to a checked ONNX model."""
    import io as _io

    import onnx

    torch = _torch()
    net = _network(payload)
    module = make_uint8_module(net, spec) if spec.io == "uint8" else net
    height, width = spec.input_size
    if spec.io == "uint8":
        dummy = torch.zeros((batch, height, width, spec.in_channels), dtype=torch.uint8)
        axes = {INPUT_NAME: {0: "batch", 1: "height", 2: "width"}, OUTPUT_NAME: {0: "batch", 1: "height", 2: "width"}}
    else:
        dummy = torch.zeros((batch, spec.in_channels, height, width), dtype=torch.float32)
        axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    buffer = _io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning for the shape->int in UNet.forward; DeprecationWarning for dynamo=False
        torch.onnx.export(
            module, (dummy,), buffer, dynamo=False, opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes=axes if dynamic else None, do_constant_folding=True, export_params=True,
        )
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    return model


def _op_counts(model: Any, qat: bool) -> Dict[str, int]:
    ops: Dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    if "BatchNormalization" in ops and not qat:  # a bug in the export chain, not a user error: keep the traceback
        raise RuntimeError(f"{ops['BatchNormalization']} BatchNormalization node(s) survived export; folding failed")
    return ops


def _set_model_metadata(model: Any, checkpoint: Path, payload: Dict[str, Any], spec: ModelSpec, qat: bool) -> None:
    """Everything downstream needs, so no flag is ever repeated: spec, precision, target, split, data statistics."""
    set_metadata(model, {
        KEY_SPEC: spec.to_json(),
        KEY_PRECISION: "int8" if qat else "fp32",
        KEY_TARGET: "tensorrt" if qat else "any",
        KEY_IO: spec.io,
        KEY_CHECKPOINT_SHA: sha256_file(checkpoint),
        KEY_VAL_METRICS: _plain(payload.get("metrics") or {}),
        KEY_VAL_SPLIT: split_record(checkpoint, payload.get("config") or {}),
    })
    if qat:
        set_metadata(model, {KEY_CALIBRATION: {"method": "qat", **payload["qat"]}})
    if payload.get("data_stats"):  # checkpoints from before issue 14 have none; calibrate then skips that check
        set_metadata(model, {KEY_DATA_STATS: payload["data_stats"]})
    model.producer_name = "edgeunet"


def _network(payload: Dict[str, Any]) -> Any:
    """The checkpoint's torch network: the plain UNet, or for a QAT checkpoint its fake-quant twin (needs ModelOpt)."""
    if payload.get("qat"):
        from edgeunet.train.qat import rebuild_qat_model

        return rebuild_qat_model(payload)
    from edgeunet.model.checkpoint import build_model

    return build_model(payload)


def _simplify(model: Any, notes: List[str]) -> Any:
    """onnxslim: constant folding, dead-node removal, shape inference. Missing package: say so, keep going."""
    try:
        import onnxslim
    except ImportError:
        notes.append("onnxslim not installed: graph not simplified (pip install onnxslim)")
        return model
    try:
        return onnxslim.slim(model)
    except Exception as exc:  # noqa: BLE001 - a failed optimisation must not lose a valid export
        notes.append(f"onnxslim failed ({type(exc).__name__}); kept the unsimplified graph")
        return model


def _plain(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """JSON-safe copy of checkpoint metrics (floats, ints, strings, lists)."""
    return json.loads(json.dumps(metrics, default=str))

