"""Precision lives in the ONNX: INT8 Q/DQ calibration, FP16 conversion, and the accuracy gate.

No torch here (edge path). The heavy lifting is done by maintained libraries:
`onnxruntime.quantization` (quant_pre_process + quantize_static) for Q/DQ, and onnxconverter-common's
float16 converter for FP16. What we add is the part a user gets wrong by hand:

* Calibration images are sampled with a seed and prepared by `edgeunet.processing.preprocess`, the
  very function inference uses, so the ranges TensorRT sees are the ranges of real frames.
* target="tensorrt" (default) emits what TensorRT accepts on 8.5, 10.x and 11.x: symmetric INT8
  (zero point 0) activations and weights, per-channel Conv weights on axis 0, per-tensor
  activations, opset >= 13, ConvTranspose left in float (its weight axis is unverified on hardware).
  target="cpu" uses asymmetric uint8 activations, which lets ONNX Runtime fuse into QLinearConv on a
  CPU; TensorRT would reject that graph, so the two are never mixed (the target is in the metadata).
* A manifest (images + sha256, method, seed, source ONNX sha256) is written to `calibration/` so an
  engine can be traced to exactly the data that calibrated it.
* `accuracy_gate` evaluates the fp32 reference and the candidate on the same labelled images with
  the one metrics module (edgeunet.evaluate -> edgeunet.metrics) and refuses a candidate whose Dice
  dropped more than `max_drop`; the refused file is renamed `*.rejected.onnx` so it is never used by
  mistake, yet kept for inspection.

Interface used by `edgeunet build-engine` (keep stable):
    calibrate(onnx_path, data, out, num_images=64, method="entropy", seed=0, target="tensorrt",
              manifest_dir=Path("calibration")) -> CalibrationResult
    convert_fp16(onnx_path, out) -> Path
    accuracy_gate(reference, candidate, val_data, max_drop=0.01) -> GateResult   (raises GateError)
    validation_samples(reference, val_data=None) -> (samples, description)
    read_spec(onnx_path) -> ModelSpec
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np

from edgeunet import __version__
from edgeunet.atomic import atomic_write_text, ensure_writable_dir
from edgeunet.data import Sample, find_samples, split_samples
from edgeunet.errors import EdgeUnetError, MissingDependencyError
from edgeunet.images import read_image
from edgeunet.onnx_model import (
    KEY_CALIBRATION,
    KEY_GATE,
    KEY_PRECISION,
    KEY_SOURCE_SHA,
    KEY_TARGET,
    KEY_VAL_SPLIT,
    input_info,
    json_field,
    load_onnx,
    precision_of,
    read_metadata,
    read_model,
    read_spec,
    save_onnx,
    set_metadata,
    sha256_file,
)
from edgeunet.processing import preprocess
from edgeunet.spec import ModelSpec

__all__ = [
    "METHODS", "TARGETS", "CalibrationResult", "GateError", "GateResult", "accuracy_gate", "calibrate", "convert_fp16",
    "convert_and_gate", "default_output", "quantize_and_gate", "read_spec", "rejected_name", "validation_samples",
]

METHODS = ("entropy", "minmax", "percentile")
TARGETS = ("tensorrt", "cpu")
# Where INT8 pays: convolutions and the ops between them (TensorRT fuses Q/DQ through MaxPool/Concat).
# Not the normalisation Mul/Add of --io uint8 graphs, nor the decision at the end.
QUANTIZED_OPS = ("Conv", "ConvTranspose", "MaxPool", "Concat")
GATE_EXIT_CODE = 4  # distinct from user errors (2) and "TensorRT missing" (3): scripts can tell a refused model apart


class GateError(EdgeUnetError):
    """The candidate lost more accuracy than allowed; it was renamed *.rejected.onnx."""

    exit_code = GATE_EXIT_CODE


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


@dataclass
class GateResult:
    """Both models scored on the same labelled images; `drop` = reference Dice - candidate Dice."""

    reference: Path
    candidate: Path
    reference_dice: float
    candidate_dice: float
    drop: float
    max_drop: float
    passed: bool
    images: int
    val_source: str
    reference_miou: float = float("nan")
    candidate_miou: float = float("nan")
    candidate_precision: str = ""

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"accuracy gate {verdict} on {self.images} image(s) ({self.val_source}): Dice fp32 {self.reference_dice:.4f}, "
            f"{self.candidate_precision or 'candidate'} {self.candidate_dice:.4f}, drop {self.drop:+.4f} (max {self.max_drop:g})"
        )

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["reference"], data["candidate"] = str(self.reference), str(self.candidate)
        return data


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


def sample_images(data: Path, num_images: int, seed: int, exclude: Sequence[Path] = ()) -> List[Path]:
    """`num_images` image files from DATA (or DATA/images), drawn with `seed`, minus `exclude`."""
    samples = find_samples(data, require_masks=False)
    paths = [s.image for s in samples if not _is_excluded(s.image, exclude)]
    if not paths:
        raise EdgeUnetError(f"--data {data}: every image is also a validation image; calibrate on training images instead")
    rng = np.random.default_rng(seed)
    count = min(num_images, len(paths))
    chosen = sorted(rng.choice(len(paths), size=count, replace=False).tolist())
    return [paths[i] for i in chosen]


def _is_excluded(path: Path, exclude: Sequence[Path]) -> bool:
    """Same file, or a copy of it (same size, then same sha256): a copied validation image is still one."""
    size = path.stat().st_size
    for other in exclude:
        other = Path(other)
        if path.resolve() == other.resolve():
            return True
        if other.is_file() and other.stat().st_size == size and sha256_file(other) == sha256_file(path):
            return True
    return False


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


def _check_source(onnx_path: Path, what: str) -> Tuple[Any, Dict[str, str], ModelSpec]:
    model, metadata, spec = read_model(onnx_path)
    precision = precision_of(metadata)
    if precision != "fp32":
        raise EdgeUnetError(
            f"{onnx_path}: is already {precision}; {what} starts from the fp32 ONNX written by `edgeunet export`"
        )
    return model, metadata, spec


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


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
) -> CalibrationResult:
    """fp32 ONNX + a folder of images -> INT8 Q/DQ ONNX at `out` and a manifest in `manifest_dir`.

    `exclude`: images never to calibrate on (the gate's validation images, so the gate stays honest).
    The output is written atomically; on any error no file is left at `out`.
    """
    onnx_path, data, out, manifest_dir = Path(onnx_path), Path(data), Path(out), Path(manifest_dir)
    if method not in METHODS:
        raise EdgeUnetError(f"--method {method}: choose from {', '.join(METHODS)}")
    if target not in TARGETS:
        raise EdgeUnetError(f"--target {target}: choose tensorrt (Q/DQ TensorRT accepts) or cpu (ONNX Runtime on a CPU)")
    if num_images < 1:
        raise EdgeUnetError(f"--num-images {num_images}: must be at least 1")
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx (e.g. model.int8.onnx)")
    if out.exists() and _same_file(onnx_path, out):
        raise EdgeUnetError(f"--out {out}: would overwrite the fp32 model; choose another name (e.g. model.int8.onnx)")
    model, metadata, spec = _check_source(onnx_path, "calibrate")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 13:
        raise EdgeUnetError(f"{onnx_path}: opset {opset}; per-channel INT8 needs opset >= 13: re-export with --opset 17")
    images = sample_images(data, num_images, seed, exclude)
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
        manifest = {
            "format": "edgeunet-calibration-manifest",
            "edgeunet_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source_onnx": str(onnx_path.resolve()),
            "source_onnx_sha256": source_sha,
            "data": str(data.resolve()),
            "method": method,
            "seed": seed,
            "target": target,
            "num_images": len(images),
            "float_nodes": float_nodes,
            "images": [{"path": str(p.resolve()), "sha256": sha256_file(p)} for p in images],
        }
        manifest_text = json.dumps(manifest, indent=2) + "\n"
        manifest_path = manifest_dir / f"{out.stem}.{source_sha[:12]}.{method}-seed{seed}.json"
        manifest_sha = hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
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
    )


def _drop_unused_domains(model: Any) -> None:
    """quant_pre_process declares ORT's private domains (com.microsoft, ...); keep only those nodes use."""
    used = {node.domain for node in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used or o.domain == "ai.onnx"]
    del model.opset_import[:]
    model.opset_import.extend(keep)


# -- fp16 -------------------------------------------------------------------------------------
def convert_fp16(onnx_path: Path, out: Path) -> Path:
    """fp32 ONNX -> fp16-typed ONNX (weights and activations), I/O types unchanged.

    Keeping I/O types means the same preprocess feeds every precision; TensorRT 11 builds FP16
    from this graph (it has no FP16 flag). On CPU, ONNX Runtime computes much of it in fp32, so the
    gate here checks weight rounding, not fp16 activation range (TENSORRT.md).
    """
    onnx_path, out = Path(onnx_path), Path(out)
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx (e.g. model.fp16.onnx)")
    if out.exists() and _same_file(onnx_path, out):
        raise EdgeUnetError(f"--out {out}: would overwrite the fp32 model; choose another name (e.g. model.fp16.onnx)")
    model, metadata, _ = _check_source(onnx_path, "fp16 conversion")
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise MissingDependencyError("fp16 conversion needs onnxconverter-common: pip install onnxconverter-common") from None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "values truncated to fp16 range" is expected for tiny weights
        original_casts = {node.name for node in model.graph.node if node.op_type == "Cast"}
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    _fix_casts_to_float(half, original_casts)
    _check_loads(half, out)
    set_metadata(half, dict(metadata))
    set_metadata(half, {KEY_PRECISION: "fp16", KEY_SOURCE_SHA: sha256_file(onnx_path)})
    return save_onnx(half, out)


# -- accuracy gate ----------------------------------------------------------------------------
def _fix_casts_to_float(model: Any, original_casts: Set[str]) -> None:
    """The converter retypes a `Cast(to=float)` output to fp16 but leaves `to` alone (the uint8 -> float
    Cast at the start of an --io uint8 graph); make the attribute agree with the declared type.
    Only the graph's own Casts: those the converter inserts at the I/O boundary are right as they are."""
    from onnx import TensorProto

    fp16_values = {v.name for v in model.graph.value_info if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.name in original_casts and node.output[0] in fp16_values:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16


def _check_loads(model: Any, where: Path) -> None:
    """A converted graph must load in ONNX Runtime before it is written (a converter bug is ours, not the user's)."""
    import onnxruntime as ort

    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any load failure means the conversion is broken
        raise RuntimeError(f"converted graph for {where} does not load in ONNX Runtime: {exc}") from exc


def rejected_name(candidate: Path) -> Path:
    """model.int8.onnx -> model.int8.rejected.onnx (the suffix still says ONNX; the name says do not use)."""
    return candidate.with_name(f"{candidate.stem}.rejected{candidate.suffix}")


def validation_samples(reference: Path, val_data: Optional[Path] = None) -> Tuple[List[Sample], str]:
    """Labelled images for the gate.

    `val_data` given: every labelled image in it. Otherwise the model's own validation split, as
    recorded at export (the training data folder split with the run's val ratio and seed, or its
    --val-data folder), so `edgeunet calibrate model.onnx --data DIR` is gated without extra flags.
    """
    if val_data is not None:
        samples = find_samples(val_data)
        return samples, f"{val_data}"
    found = split_samples_of(json_field(read_metadata(load_onnx(reference)), KEY_VAL_SPLIT) or {})
    if found is None:
        raise EdgeUnetError(
            f"{reference}: no validation images known for the accuracy gate; pass --val-data DIR (images/ + masks/)"
        )
    return found


def split_samples_of(split: Dict[str, Any]) -> Optional[Tuple[List[Sample], str]]:
    """The validation images a recorded split names (export.validation_split), with a description; None if unknown."""
    if split.get("val_data") and Path(split["val_data"]).is_dir():
        return find_samples(split["val_data"]), f"{split['val_data']}"
    if split.get("data") and Path(split["data"]).is_dir() and split.get("val_ratio"):
        seed = int(split.get("seed") or 0)
        _, val, _ = split_samples(find_samples(split["data"]), float(split["val_ratio"]), 0.0, seed=seed)
        return val, f"validation split of {split['data']} (ratio {split['val_ratio']}, seed {seed})"
    return None


def _evaluate(model: Path, samples: Sequence[Sample], data: Path) -> Dict[str, Any]:
    from edgeunet.evaluate import evaluate

    return evaluate(model, data, backend="onnxruntime", device="cpu", samples=samples)


def accuracy_gate(
    reference: Path,
    candidate: Path,
    val_data: Optional[Path] = None,
    max_drop: float = 0.01,
    samples: Optional[Sequence[Sample]] = None,
) -> GateResult:
    """Score `reference` (fp32) and `candidate` on the same images with ONNX Runtime on the CPU.

    Passes when reference Dice - candidate Dice <= max_drop. On failure the candidate is renamed
    (rejected_name) and GateError is raised with one line giving both Dice values. On success the
    gate result is written into the candidate's metadata (edgeunet.gate).
    `val_data=None` uses the model's recorded validation split (see validation_samples).
    """
    reference, candidate = Path(reference), Path(candidate)
    if not max_drop >= 0:  # also catches NaN
        raise EdgeUnetError(f"--max-drop {max_drop}: must be 0 or more (a Dice drop, e.g. 0.01)")
    if samples is None:
        samples, source = validation_samples(reference, val_data)
    else:
        source = str(val_data) if val_data is not None else "given samples"
    data_root = Path(val_data) if val_data is not None else Path(".")
    ref_spec, cand_spec = read_spec(reference), read_spec(candidate)
    if ref_spec.num_classes != cand_spec.num_classes or ref_spec.mask_values != cand_spec.mask_values:
        raise EdgeUnetError(f"{candidate}: was not made from {reference} (classes differ); gate against its own fp32 ONNX")
    ref = _evaluate(reference, samples, data_root)
    cand = _evaluate(candidate, samples, data_root)
    ref_dice, cand_dice = float(ref["dice"]), float(cand["dice"])
    drop = ref_dice - cand_dice
    passed = bool(drop <= max_drop)
    result = GateResult(
        reference=reference, candidate=candidate, reference_dice=ref_dice, candidate_dice=cand_dice, drop=drop,
        max_drop=max_drop, passed=passed, images=len(samples), val_source=source, reference_miou=float(ref["miou"]),
        candidate_miou=float(cand["miou"]), candidate_precision=str(cand.get("precision", "")),
    )
    if not passed:
        rejected = rejected_name(candidate)
        os.replace(candidate, rejected)
        result.candidate = rejected
        raise GateError(
            f"accuracy gate failed: {candidate.name} Dice {cand_dice:.4f} vs fp32 {ref_dice:.4f} on {len(samples)} image(s) "
            f"(drop {drop:.4f} > --max-drop {max_drop:g}); kept as {rejected}; calibrate with more, representative images "
            f"or another --method"
        )
    model = load_onnx(candidate)
    set_metadata(model, {KEY_GATE: result.to_dict()})
    save_onnx(model, candidate, check=False)
    return result


def quantize_and_gate(
    onnx_path: Path,
    data: Path,
    out: Path,
    val_data: Optional[Path] = None,
    max_drop: float = 0.01,
    num_images: int = 64,
    method: str = "entropy",
    seed: int = 0,
    target: str = "tensorrt",
    manifest_dir: Path = Path("calibration"),
    gate: bool = True,
) -> Tuple[CalibrationResult, Optional[GateResult]]:
    """calibrate + accuracy_gate, the way `edgeunet calibrate` and `build-engine --int8` run them.

    Validation images are excluded from calibration so the gate measures generalisation.
    Bad arguments are refused before minutes of calibration are spent.
    """
    if not max_drop >= 0:
        raise EdgeUnetError(f"--max-drop {max_drop}: must be 0 or more (a Dice drop, e.g. 0.01)")
    samples: Optional[List[Sample]] = None
    source = ""
    if gate:
        read_spec(onnx_path)  # a foreign ONNX fails here, with its own message, before the val split is looked up
        samples, source = validation_samples(Path(onnx_path), val_data)
    calib = calibrate(
        onnx_path, data, out, num_images=num_images, method=method, seed=seed, target=target, manifest_dir=manifest_dir,
        exclude=[s.image for s in samples] if samples else (),
    )
    if not gate or samples is None:
        return calib, None
    result = accuracy_gate(onnx_path, out, val_data=Path(source) if val_data is not None else None, max_drop=max_drop,
                           samples=samples)
    result.val_source = source
    return calib, result



def convert_and_gate(
    onnx_path: Path, out: Path, val_data: Optional[Path] = None, max_drop: float = 0.01, gate: bool = True
) -> Tuple[Path, Optional[GateResult]]:
    """convert_fp16 + accuracy_gate, the way `edgeunet convert --fp16` runs them."""
    if not max_drop >= 0:
        raise EdgeUnetError(f"--max-drop {max_drop}: must be 0 or more (a Dice drop, e.g. 0.01)")
    samples: Optional[List[Sample]] = None
    source = ""
    if gate:
        read_spec(onnx_path)
        samples, source = validation_samples(Path(onnx_path), val_data)
    path = convert_fp16(onnx_path, out)
    if not gate or samples is None:
        return path, None
    result = accuracy_gate(onnx_path, path, val_data=val_data, max_drop=max_drop, samples=samples)
    result.val_source = source
    return path, result


def default_output(model: Path, tag: str) -> Path:
    """runs/x/best.onnx + "int8" -> runs/x/best.int8.onnx (the precision in the name, next to its source)."""
    return model.with_name(f"{model.stem}.{tag}.onnx")
