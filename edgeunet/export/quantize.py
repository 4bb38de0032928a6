"""Precision lives in the ONNX: ONNX Runtime's INT8 quantizer, placing Q/DQ (TensorRT) or QOperator (CPU) nodes.

No torch here (edge path). The heavy lifting is done by a maintained library, `onnxruntime.quantization`
(quant_pre_process + quantize_static). What we add is the part a user gets wrong by hand:

* Calibration images are prepared by `edgeunet.core.processing.preprocess`, the very function inference uses,
  so the ranges TensorRT sees are the ranges of real frames.
* target="tensorrt" (default) emits what TensorRT accepts on 8.5, 10.x and 11.x: symmetric INT8
  (zero point 0) activations and weights, per-channel Conv weights on axis 0, per-tensor
  activations, opset >= 13, ConvTranspose left in float (its weight axis is unverified on hardware).
  target="cpu" uses asymmetric uint8 activations, which lets ONNX Runtime fuse into QLinearConv on a
  CPU; TensorRT would reject that graph, so the two are never mixed (the target is in the metadata).

`ort_quantize` only places the nodes, in memory (`Quantized`). Everything around it is shared with the other
engine (export/modelopt_ptq.py) and lives in one path, `export.int8.quantize_and_gate`: argument checks, image
sampling and the calibration-set check (export/int8_options.py), the gate and float fallback (export/int8.py),
and the metadata, manifest and single write (export/int8_result.py).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.images import read_image
from edgeunet.core.onnx_model import input_info, load_onnx, precision_of, read_model
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec

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
class Quantized:
    """What an engine (ONNX Runtime here, ModelOpt in modelopt_ptq.py) hands back: the INT8 graph, not yet written.

    `manifest_fields` and `calibration_fields` are what only this engine knows (its name and version, the layers it
    left in float by itself); export/int8_result.py adds everything the engines share.
    """

    model: Any
    float_nodes: List[str] = field(default_factory=list)
    manifest_fields: Dict[str, Any] = field(default_factory=dict)
    calibration_fields: Dict[str, Any] = field(default_factory=dict)
    producer: Optional[str] = None


# -- calibration data -------------------------------------------------------------------------
def _require_ort_quant() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError:  # pragma: no cover - onnxruntime is a core dependency
        raise MissingDependencyError("calibration needs onnxruntime: pip install onnxruntime") from None
    return quantization


def _progress(total: int, desc: str, enabled: bool = True) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=None if enabled else True)


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
    """Node names kept in float: ConvTranspose for TensorRT (axis ambiguity, see docs/TENSORRT.md)."""
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


def ort_quantize(onnx_path: Path, images: Sequence[Path], spec: ModelSpec, method: str = "entropy", target: str = "tensorrt",
                 percentile: float = DEFAULT_PERCENTILE, workdir: Path = Path("."), progress: bool = True) -> Quantized:
    """fp32 ONNX + calibration images -> ONNX Runtime's INT8 graph for `target`, in memory (nothing is written).

    Arguments are checked by `export.int8_options` (through `export.int8.quantize_and_gate`, the one INT8 path);
    `workdir` holds quant_pre_process's intermediate files for the duration of the call.
    """
    quantization = _require_ort_quant()
    settings = _quant_settings(target)
    settings["extra_options"]["CalibStridedMinMax"] = _stride(len(images))
    if method == "percentile":
        settings["extra_options"]["CalibPercentile"] = percentile
    with tempfile.TemporaryDirectory(prefix=".edgeunet-calib-", dir=str(workdir)) as tmp_name:
        tmp = Path(tmp_name)
        prepared, quantized = tmp / "prepared.onnx", tmp / "quantized.onnx"
        with _quiet_ort_logging():
            # quant_pre_process: shape inference + ORT graph optimisation (folds what export left unfused).
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
            prepared_model = load_onnx(prepared)
            float_nodes = _float_ops_for_target(prepared_model, target)
            bar = _progress(len(images), f"calibrating ({method})", progress)
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress chatter; we show a bar
                    quantization.quantize_static(
                        str(prepared), str(quantized), _Reader(images, spec, input_info(prepared_model)[0], bar),
                        per_channel=True, reduce_range=False, calibrate_method=_METHOD_ENUMS[method](quantization),
                        nodes_to_exclude=float_nodes or None, use_external_data_format=False, **settings,
                    )
            finally:
                bar.close()
        qmodel = load_onnx(quantized)
    _drop_unused_domains(qmodel)
    return Quantized(qmodel, float_nodes, manifest_fields={"float_nodes": float_nodes})


_METHOD_ENUMS: Dict[str, Callable[[Any], Any]] = {
    "entropy": lambda q: q.CalibrationMethod.Entropy,
    "minmax": lambda q: q.CalibrationMethod.MinMax,
    "percentile": lambda q: q.CalibrationMethod.Percentile,
}


def _drop_unused_domains(model: Any) -> None:
    """quant_pre_process declares ORT's private domains (com.microsoft, ...); keep only those nodes use."""
    used = {node.domain for node in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used or o.domain == "ai.onnx"]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def default_output(model: Path, tag: str) -> Path:
    """runs/x/best.onnx + "int8" -> runs/x/best.int8.onnx (the precision in the name, next to its source)."""
    return model.with_name(f"{model.stem}.{tag}.onnx")
