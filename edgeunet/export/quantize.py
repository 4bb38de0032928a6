"""Precision lives in the ONNX: INT8 calibration into a Q/DQ (TensorRT) or QOperator (CPU) graph.

No torch here (edge path). The heavy lifting is done by a maintained library, `onnxruntime.quantization`
(quant_pre_process + quantize_static). What we add is the part a user gets wrong by hand:

* Calibration images are sampled with a seed and prepared by `edgeunet.core.processing.preprocess`, the
  very function inference uses, so the ranges TensorRT sees are the ranges of real frames.
* target="tensorrt" (default) emits what TensorRT accepts on 8.5, 10.x and 11.x: symmetric INT8
  (zero point 0) activations and weights, per-channel Conv weights on axis 0, per-tensor
  activations, opset >= 13, ConvTranspose left in float (its weight axis is unverified on hardware).
  target="cpu" uses asymmetric uint8 activations, which lets ONNX Runtime fuse into QLinearConv on a
  CPU; TensorRT would reject that graph, so the two are never mixed (the target is in the metadata).
* A manifest (images + sha256, method, seed, source ONNX sha256) is written to `calibration/` so an
  engine can be traced to exactly the data that calibrated it.
* `export.int8.quantize_and_gate` adds what happens around this: the calibration-set check, the accuracy gate,
  layer sensitivity and the float fallback.

Interface used by `edgeunet build-engine` and bench (keep stable):
    calibrate(onnx_path, data, out, num_images=64, method="entropy", seed=0, target="tensorrt",
              manifest_dir=Path("calibration")) -> CalibrationResult
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.atomic import atomic_write_text, ensure_writable_dir, json_text, sha256_bytes, sha256_file
from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.images import read_image
from edgeunet.core.onnx_model import (
    KEY_CALIBRATION,
    KEY_PRECISION,
    KEY_SOURCE_SHA,
    KEY_TARGET,
    input_info,
    load_onnx,
    precision_of,
    read_model,
    save_onnx,
    set_metadata,
)
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.core.version import __version__
from edgeunet.data.splits import sample_images

METHODS = ("entropy", "minmax", "percentile")
TARGETS = ("tensorrt", "cpu")
ENGINES = ("edgeunet", "modelopt")  # who places the Q/DQ: ONNX Runtime's quantizer with our settings, or NVIDIA ModelOpt
# Where INT8 pays: convolutions and the ops between them (TensorRT fuses Q/DQ through MaxPool/Concat).
# Not the normalisation Mul/Add of --io uint8 graphs, nor the decision at the end.
QUANTIZED_OPS = ("Conv", "ConvTranspose", "MaxPool", "Concat")
# --method percentile keeps this share of each activation histogram: 99.99 clips only outliers (ORT's default
# 99.999 lets single hot pixels set the range); a low value such as 90 clips real signal (the gate will say so).
DEFAULT_PERCENTILE = 99.99


def check_percentile(percentile: float) -> None:
    if not 50.0 <= percentile <= 100.0:  # also NaN
        raise EdgeUnetError(f"--percentile {percentile}: choose a value from 50 to 100 (99.99 is typical)")


@dataclass
class CalibrationResult:
    """What `calibrate` produced; build-engine copies these into the engine sidecar."""

    onnx_path: Path
    manifest_path: Path
    manifest_sha256: str
    num_images: int
    method: str = "entropy"
    seed: int = 0
    target: str = "tensorrt"
    source_sha256: str = ""
    quantized_nodes: int = 0
    float_nodes: List[str] = field(default_factory=list)
    manifest: Dict[str, Any] = field(default_factory=dict)
    float_layers: List[str] = field(default_factory=list)  # --keep-float / --fallback auto (export.int8)
    check: Dict[str, Any] = field(default_factory=dict)  # the calibration-set check (export.calib_check)
    reports: List[Path] = field(default_factory=list)  # the sensitivity report and chart, when asked for


# -- calibration data -------------------------------------------------------------------------
def _require_ort_quant() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError:  # pragma: no cover - onnxruntime is a core dependency
        raise MissingDependencyError("calibration needs onnxruntime: pip install onnxruntime") from None
    return quantization


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=None)


class _Reader:
    """An onnxruntime CalibrationDataReader over image files, using the inference preprocess.

    Supports `set_range` so that quantize_static can collect in strides (CalibStridedMinMax):
    only a few images' intermediate tensors are held in memory at a time, instead of all of them.
    """

    def __init__(self, images: Sequence[Path], spec: ModelSpec, input_name: str, progress: Any) -> None:
        self.images = list(images)
        self.spec = spec
        self.input_name = input_name
        self.progress = progress
        self._range: Tuple[int, int] = (0, len(self.images))
        self._next = 0

    def __len__(self) -> int:
        return len(self.images)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._range = (start_index, min(end_index, len(self.images)))
        self._next = start_index

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        if self._next >= self._range[1]:
            return None
        path = self.images[self._next]
        self._next += 1
        batch = preprocess(read_image(path), self.spec)
        self.progress.update(1)
        return {self.input_name: batch}

    def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
        return self

    def __next__(self) -> Dict[str, np.ndarray]:
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item


def _stride(count: int, limit: int = 8) -> int:
    """Largest divisor of `count` not above `limit` (quantize_static needs strides that divide the total)."""
    return max(d for d in range(1, min(limit, count) + 1) if count % d == 0)


def _float_ops_for_target(model: Any, target: str) -> List[str]:
    """Node names kept in float: ConvTranspose for TensorRT (axis ambiguity, see TENSORRT.md)."""
    if target != "tensorrt":
        return []
    return [node.name for node in model.graph.node if node.op_type == "ConvTranspose"]


def _quant_settings(target: str) -> Dict[str, Any]:
    quantization = _require_ort_quant()
    if target == "tensorrt":
        return {
            "quant_format": quantization.QuantFormat.QDQ,
            "op_types_to_quantize": list(QUANTIZED_OPS),
            "activation_type": quantization.QuantType.QInt8,
            "weight_type": quantization.QuantType.QInt8,
            "extra_options": {
                "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                "AddQDQPairToWeight": True, "DedicatedQDQPair": False, "ForceQuantizeNoInputCheck": True,
            },
        }
    # cpu: QOperator form (QLinearConv/QLinearConcat, the kernels ORT's MLAS runs directly, with fewer layout
    # transposes than Q/DQ) and Relu in the op list so its clamp is folded into the uint8 output range of the conv.
    # Measured on a 2-core AVX2 EPYC (benchmarks/cpu_int8.py): QOperator 1.00-1.13x fp32, Q/DQ 0.86-0.99x.
    return {
        "quant_format": quantization.QuantFormat.QOperator,
        "op_types_to_quantize": [*QUANTIZED_OPS, "Relu"],
        "activation_type": quantization.QuantType.QUInt8,
        "weight_type": quantization.QuantType.QInt8,
        "extra_options": {"ActivationSymmetric": False, "WeightSymmetric": True},
    }


@contextlib.contextmanager
def _quiet_ort_logging() -> Iterator[None]:
    """quantize_static logs advice through the root logger; the CLI shows its own summary instead."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_source(onnx_path: Path, what: str) -> Tuple[Any, Dict[str, str], ModelSpec]:
    model, metadata, spec = read_model(onnx_path)
    precision = precision_of(metadata)
    if precision != "fp32":
        raise EdgeUnetError(
            f"{onnx_path}: is already {precision}; {what} starts from the fp32 ONNX written by `edgeunet export`"
        )
    return model, metadata, spec


def same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def check_calibrate_args(
    onnx_path: Path, out: Path, num_images: int, method: str, target: str, percentile: float,
) -> Tuple[Any, Dict[str, str], ModelSpec]:
    """Every mistake `calibrate` can refuse before reading an image; returns (model, metadata, spec) of the fp32 source."""
    if method not in METHODS:
        raise EdgeUnetError(f"--method {method}: choose from {', '.join(METHODS)}")
    if target not in TARGETS:
        raise EdgeUnetError(f"--target {target}: choose tensorrt (Q/DQ TensorRT accepts) or cpu (ONNX Runtime on a CPU)")
    if num_images < 1:
        raise EdgeUnetError(f"--num-images {num_images}: must be at least 1")
    check_percentile(percentile)
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx (e.g. model.int8.onnx)")
    if out.exists() and same_file(onnx_path, out):
        raise EdgeUnetError(f"--out {out}: would overwrite the fp32 model; choose another name (e.g. model.int8.onnx)")
    model, metadata, spec = check_source(onnx_path, "calibrate")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 13:
        raise EdgeUnetError(f"{onnx_path}: opset {opset}; per-channel INT8 needs opset >= 13: re-export with --opset 17")
    return model, metadata, spec


def calibrate(
    onnx_path: Path,
    data: Path,
    out: Path,
    num_images: int = 64,
    method: str = "entropy",
    seed: int = 0,
    target: str = "tensorrt",
    manifest_dir: Path = Path("calibration"),
    exclude: Sequence[Path] = (),
    progress: bool = True,
    percentile: float = DEFAULT_PERCENTILE,
    images: Optional[Sequence[Path]] = None,
    manifest_extra: Optional[Dict[str, Any]] = None,
) -> CalibrationResult:
    """fp32 ONNX + a folder of images -> INT8 Q/DQ ONNX at `out` and a manifest in `manifest_dir`.

    `exclude`: images never to calibrate on (the gate's validation images, so the gate stays honest).
    `images`: calibrate on exactly these (already sampled, e.g. after the calibration-set check) instead of sampling.
    `percentile`: the clipping percentile of method="percentile". `manifest_extra`: more fields for the manifest.
    The output is written atomically; on any error no file is left at `out`.
    """
    onnx_path, data, out, manifest_dir = Path(onnx_path), Path(data), Path(out), Path(manifest_dir)
    model, metadata, spec = check_calibrate_args(onnx_path, out, num_images, method, target, percentile)
    images = list(images) if images is not None else sample_images(data, num_images, seed, exclude)
    ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    ensure_writable_dir(manifest_dir, "calibration folder")
    quantization = _require_ort_quant()
    source_sha = sha256_file(onnx_path)
    method_enum = {
        "entropy": quantization.CalibrationMethod.Entropy,
        "minmax": quantization.CalibrationMethod.MinMax,
        "percentile": quantization.CalibrationMethod.Percentile,
    }[method]
    settings = _quant_settings(target)
    settings["extra_options"]["CalibStridedMinMax"] = _stride(len(images))
    if method == "percentile":
        settings["extra_options"]["CalibPercentile"] = percentile
    input_name = input_info(model)[0]

    with tempfile.TemporaryDirectory(prefix=".edgeunet-calib-", dir=str(out.parent) if str(out.parent) else ".") as tmp_name:
        tmp = Path(tmp_name)
        prepared = tmp / "prepared.onnx"
        quantized = tmp / "quantized.onnx"
        with _quiet_ort_logging():
            # quant_pre_process: shape inference + ORT graph optimisation (folds what export left unfused).
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
            prepared_model = load_onnx(prepared)
            float_nodes = _float_ops_for_target(prepared_model, target)
            bar = _progress(len(images), f"calibrating ({method})")
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress chatter; we show a bar
                    quantization.quantize_static(
                        str(prepared), str(quantized), _Reader(images, spec, input_name, bar),
                        per_channel=True, reduce_range=False,
                        calibrate_method=method_enum, nodes_to_exclude=float_nodes or None,
                        use_external_data_format=False, **settings,
                    )
            finally:
                bar.close()
        qmodel = load_onnx(quantized)
        _drop_unused_domains(qmodel)
        settings_fields: Dict[str, Any] = {"method": method, **({"percentile": percentile} if method == "percentile" else {}),
                                           "seed": seed, "target": target, "float_nodes": float_nodes, **(manifest_extra or {})}
        manifest_path, manifest, manifest_text, manifest_sha = calibration_manifest(
            onnx_path, source_sha, data, images, out, manifest_dir, **settings_fields)
        # Keep our metadata; quantize_static keeps metadata_props but we restate what changed.
        set_metadata(qmodel, dict(metadata))
        set_metadata(qmodel, {
            KEY_PRECISION: "int8",
            KEY_TARGET: target,
            KEY_SOURCE_SHA: source_sha,
            KEY_CALIBRATION: {"manifest": str(manifest_path), "manifest_sha256": manifest_sha, "method": method,
                              "num_images": len(images), "seed": seed},
        })
        quantized_nodes = sum(1 for n in qmodel.graph.node if n.op_type == "QuantizeLinear" or n.op_type.startswith("QLinear"))
        atomic_write_text(manifest_path, manifest_text)
        save_onnx(qmodel, out)
    return CalibrationResult(
        onnx_path=out, manifest_path=manifest_path, manifest_sha256=manifest_sha, num_images=len(images), method=method,
        seed=seed, target=target, source_sha256=source_sha, quantized_nodes=quantized_nodes, float_nodes=float_nodes,
        manifest=manifest,
    )


def calibration_manifest(
    onnx_path: Path, source_sha: str, data: Path, images: Sequence[Path], out: Path, manifest_dir: Path, **fields: Any,
) -> Tuple[Path, Dict[str, Any], str, str]:
    """(path, manifest, text, sha256) of a manifest in `calibrate`'s format, for the other engines (modelopt_ptq.py).

    It ties an INT8 file to its source ONNX and the exact calibration images; `fields` holds the engine's settings
    (engine, method, seed, target, ...). The caller writes the text once the model itself is ready.
    """
    manifest = {
        "format": "edgeunet-calibration-manifest",
        "edgeunet_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source_onnx": str(onnx_path.resolve()),
        "source_onnx_sha256": source_sha,
        "data": str(data.resolve()),
        **fields,
        "num_images": len(images),
        "images": [{"path": str(p.resolve()), "sha256": sha256_file(p)} for p in images],
    }
    text = json_text(manifest)
    tag = f"{fields.get('engine', '')}-" if fields.get("engine") else ""
    path = manifest_dir / f"{out.stem}.{source_sha[:12]}.{tag}{fields.get('method')}-seed{fields.get('seed')}.json"
    return path, manifest, text, sha256_bytes(text.encode("utf-8"))


def _drop_unused_domains(model: Any) -> None:
    """quant_pre_process declares ORT's private domains (com.microsoft, ...); keep only those nodes use."""
    used = {node.domain for node in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used or o.domain == "ai.onnx"]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def default_output(model: Path, tag: str) -> Path:
    """runs/x/best.onnx + "int8" -> runs/x/best.int8.onnx (the precision in the name, next to its source)."""
    return model.with_name(f"{model.stem}.{tag}.onnx")
