"""What an INT8 calibration is asked to do (`Int8Options`) and what is settled before any image is calibrated on (`prepare`).

Why a module of its own: `calibrate`, `build-engine --int8`, bench's INT8 rows and the benchmarks all go through
`export.int8.quantize_and_gate`; their settings are one dataclass with one set of defaults and one check, instead of
twenty keyword arguments re-checked by each engine (the opset check once existed on one engine's side only).
`prepare` refuses every mistake it can before minutes of calibration, samples the images (the gate's validation
images excluded) and runs the calibration-set check (export.calib_check); nothing is written until it has passed.
No torch (edge path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.atomic import ensure_writable_dir, sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.dataset import Sample
from edgeunet.data.splits import sample_images
from edgeunet.evaluate.class_gate import class_drop_limit
from edgeunet.evaluate.gate import check_max_drop, validation_samples
from edgeunet.export.calib_check import check_calibration_set
from edgeunet.export.modelopt_ptq import METHODS as MODELOPT_METHODS
from edgeunet.export.qdq_layers import LAYER_OPS, MOVEMENT_OPS
from edgeunet.export.quantize import DEFAULT_PERCENTILE, ENGINES, METHODS, TARGETS, check_percentile, check_source, same_file

FALLBACKS = ("off", "auto")
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (axis) arrived in opset 13
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Int8Options:
    """How to calibrate, gate and free float layers: the `edgeunet calibrate` command line as data.

    engine: who places the Q/DQ (edgeunet = ONNX Runtime with our TensorRT settings, modelopt = NVIDIA ModelOpt);
    method/percentile/num_images/seed/target: the calibration; manifest_dir: where its manifest goes;
    strict_calibration: a calibration set unlike the training data is an error, not a warning;
    gate/val_data/max_drop/max_class_drop: the accuracy gate (mean and worst class) against the fp32 source;
    keep_float/fallback/sensitivity(_alone): layers left in float by hand, by the greedy fallback, and the report.
    """

    engine: str = "edgeunet"
    method: str = "entropy"
    percentile: float = DEFAULT_PERCENTILE
    num_images: int = 64
    seed: int = 0
    target: str = "tensorrt"
    manifest_dir: Path = Path("calibration")
    strict_calibration: bool = False
    progress: bool = True
    gate: bool = True
    val_data: Optional[Path] = None
    max_drop: float = 0.01
    max_class_drop: Optional[float] = None
    keep_float: Sequence[str] = ()
    fallback: str = "off"
    sensitivity: Optional[Path] = None
    sensitivity_alone: bool = False

    @property
    def chooses_float_layers(self) -> bool:
        return bool(self.keep_float) or self.fallback == "auto" or self.sensitivity is not None

    def check(self) -> None:
        """Every refusable combination, before any file is read."""
        check_max_drop(self.max_drop)
        class_drop_limit(self.max_drop, self.max_class_drop)
        if self.engine not in ENGINES:
            raise EdgeUnetError(f"--engine {self.engine}: choose {' or '.join(ENGINES)}")
        if self.engine == "modelopt":
            self._check_modelopt()
        elif self.method not in METHODS:
            raise EdgeUnetError(f"--method {self.method}: choose from {', '.join(METHODS)}")
        if self.target not in TARGETS:
            raise EdgeUnetError(f"--target {self.target}: choose tensorrt (Q/DQ TensorRT accepts) or cpu (ONNX Runtime on a CPU)")
        if self.num_images < 1:
            raise EdgeUnetError(f"--num-images {self.num_images}: must be at least 1")
        check_percentile(self.percentile)
        if self.fallback not in FALLBACKS:
            raise EdgeUnetError(f"--fallback {self.fallback}: choose off or auto")
        if self.chooses_float_layers and self.target != "tensorrt":
            raise EdgeUnetError("--keep-float, --fallback auto and --sensitivity work on Q/DQ graphs: use --target tensorrt")
        if self.fallback == "auto" and not self.gate:
            raise EdgeUnetError("--fallback auto is driven by the accuracy gate: drop --no-gate")
        if self.sensitivity is not None and Path(self.sensitivity).suffix.lower() != ".md":
            raise EdgeUnetError(f"--sensitivity {self.sensitivity}: the report is Markdown; give a name ending in .md (a .png is written beside it)")

    def _check_modelopt(self) -> None:
        if self.target != "tensorrt":
            raise EdgeUnetError("--engine modelopt makes a TensorRT Q/DQ graph; drop --target cpu")
        if self.chooses_float_layers:
            raise EdgeUnetError("--keep-float, --fallback auto and --sensitivity work on edgeunet's own graph: drop them or --engine modelopt")
        if self.method not in MODELOPT_METHODS:
            raise EdgeUnetError(f"--method {self.method} with --engine modelopt: choose {' or '.join(MODELOPT_METHODS)} (ModelOpt has no percentile)")

    def describe(self) -> str:
        """One line naming the settings (bench says which it picked)."""
        method = f"{self.method} {self.percentile:g}" if self.method == "percentile" else self.method
        gate = f"gate max drop {self.max_drop:g}" if self.gate else "no gate"
        return f"engine {self.engine}, {method}, {self.num_images} images, seed {self.seed}, target {self.target}, {gate}"


@dataclass
class Int8Job:
    """Everything settled before calibrating: the checked source, the sampled images and the calibration-set check."""

    onnx_path: Path
    data: Path
    out: Path
    options: Int8Options
    model: Any
    metadata: Dict[str, str]
    spec: ModelSpec
    source_sha: str
    images: List[Path]
    check: Dict[str, Any] = field(default_factory=dict)
    samples: Optional[List[Sample]] = None  # labelled validation images (gate, sensitivity, fallback)
    val_source: str = ""

    @property
    def shown_source(self) -> str:
        """How the gate names its validation images: the folder given, or the model's recorded split."""
        return str(self.options.val_data) if self.options.val_data is not None else self.val_source


def check_files(onnx_path: Path, out: Path, engine: str) -> Tuple[Any, Dict[str, str], ModelSpec]:
    """The source and output files, for either engine; returns (model, metadata, spec) of the fp32 source."""
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx (e.g. model.int8.onnx)")
    if out.exists() and same_file(onnx_path, out):
        raise EdgeUnetError(f"--out {out}: would overwrite the fp32 model; choose another name (e.g. model.int8.onnx)")
    model, metadata, spec = check_source(onnx_path, "calibrate")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < MIN_OPSET:
        raise EdgeUnetError(f"{onnx_path}: opset {opset}; per-channel INT8 needs opset >= {MIN_OPSET}: re-export with --opset 17")
    if engine == "modelopt" and spec.io != "float":
        raise EdgeUnetError(f"{onnx_path}: --engine modelopt calibrates float-I/O models; export without --io uint8")
    return model, metadata, spec


def check_keep_names(model: Any, keep: Sequence[str]) -> None:
    """Before calibrating: names must be compute layers of the fp32 graph (quant_pre_process keeps node names)."""
    valid = [node.name for node in model.graph.node if node.op_type in LAYER_OPS + MOVEMENT_OPS]
    unknown = [name for name in keep if name not in valid]
    if unknown:
        shown = ", ".join(valid[:5]) + (", ..." if len(valid) > 5 else "")
        raise EdgeUnetError(f"--keep-float {','.join(unknown)}: no such layer in the model; valid names ({len(valid)}) include {shown}")


def prepare(onnx_path: Path, data: Path, out: Path, options: Int8Options, warn: Warn) -> Int8Job:
    """Checks, image sampling and the calibration-set check; raises before anything is written."""
    onnx_path, data, out = Path(onnx_path), Path(data), Path(out)
    options.check()
    model, metadata, spec = check_files(onnx_path, out, options.engine)
    check_keep_names(model, options.keep_float)
    samples: Optional[List[Sample]] = None
    source = ""
    if options.gate or options.val_data is not None:
        samples, source = validation_samples(onnx_path, options.val_data)
    if options.sensitivity is not None and not samples:
        raise EdgeUnetError("--sensitivity needs labelled validation images: pass --val-data DIR (images/ + masks/)")
    val_images = [s.image for s in samples] if samples else None
    images = sample_images(data, options.num_images, options.seed, val_images or ())
    check = check_calibration_set(model, metadata, spec, images, val_images)
    check.raise_if_strict(options.strict_calibration, data)  # before anything is written
    if not check.ok:
        warn(f"warning: {check.warning()} (--data {data}; --strict-calibration makes this an error)")
    ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    ensure_writable_dir(options.manifest_dir, "calibration folder")
    return Int8Job(onnx_path, data, out, options, model, metadata, spec, sha256_file(onnx_path), images, check.to_dict(),
                   samples, source)
