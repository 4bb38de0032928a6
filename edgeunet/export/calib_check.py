"""Are these calibration images like the data the model was trained and validated on? Asked before calibrating.

Why: INT8 ranges are measured on the calibration images. Noise, another domain (street scenes for a membrane
model), BGR files for an RGB model or a handful of images give ranges that do not fit real frames, and the accuracy
gate only finds out afterwards, if at all. Two comparisons, each skipped when its reference is unknown:

* the images against the training statistics stored in the model (`edgeunet.data_stats`, data/data_stats.py);
* the fp32 activation ranges they produce against those of validation images (ONNX Runtime, CPU), per tensor that
  will be quantized (the inputs of Conv/ConvTranspose/MatMul/Gemm).

The result is one warning line (or, with --strict-calibration, one error line) and a record in the manifest.
No torch (edge path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.images import read_image
from edgeunet.core.onnx_model import KEY_DATA_STATS, input_info, json_field
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.data.data_stats import compare_stats, compute_data_stats
from edgeunet.export.qdq_layers import LAYER_OPS, with_outputs

# Fewer images than this give ranges set by a few frames' extremes (entropy calibration needs a histogram with mass).
MIN_CALIBRATION_IMAGES = 16
# Images per side for the activation comparison: enough for a stable max-abs per tensor, cheap on a CPU.
ACTIVATION_IMAGES = 8
# Median over tensors of (calibration max-abs / validation max-abs) outside this range: the scales calibration
# picks would clip (ratio < 0.5) or waste half the int8 levels (ratio > 2) on real frames.
ACTIVATION_RATIO_RANGE = (0.5, 2.0)


@dataclass
class CalibrationCheck:
    """What differs (short phrases) and the numbers behind it, for the warning line and the manifest."""

    findings: List[str] = field(default_factory=list)
    details: Dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def warning(self) -> str:
        return "calibration set differs from the training data: " + "; ".join(self.findings)

    def to_dict(self) -> Dict[str, Any]:
        return {"ok": self.ok, "findings": list(self.findings), **self.details}

    def raise_if_strict(self, strict: bool, data: Path) -> None:
        if strict and not self.ok:
            raise EdgeUnetError(
                f"--strict-calibration: {self.warning()} (--data {data}); calibrate on images like the training data, "
                "or drop --strict-calibration to accept them"
            )


def _activation_tensors(model: Any) -> List[str]:
    """The float activations that will be quantized: non-constant inputs of the compute layers."""
    constants = {init.name for init in model.graph.initializer}
    constants |= {node.output[0] for node in model.graph.node if node.op_type == "Constant"}
    names: List[str] = []
    for node in model.graph.node:
        if node.op_type in LAYER_OPS:
            names.extend(name for name in node.input[:1] if name and name not in constants and name not in names)
    return names


def activation_ranges(model: Any, spec: ModelSpec, images: Sequence[Path]) -> Dict[str, float]:
    """Tensor name -> max |value| over `images`, from the fp32 `model` run with ONNX Runtime on the CPU."""
    import onnxruntime as ort

    tensors = _activation_tensors(model)
    probe = with_outputs(model, tensors)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = input_info(model)[0]
    peaks = {name: 0.0 for name in tensors}
    for path in images:
        values = session.run(tensors, {input_name: preprocess(read_image(path), spec)})
        for name, value in zip(tensors, values):
            peaks[name] = max(peaks[name], float(np.abs(value).max()) if value.size else 0.0)
    return peaks


def compare_activations(calib: Dict[str, float], val: Dict[str, float]) -> Dict[str, Any]:
    """Median over tensors of calibration/validation max-abs (tensors silent on validation images are skipped)."""
    ratios = [calib[name] / val[name] for name in calib if val.get(name, 0.0) > 1e-12]
    if not ratios:
        return {"activation_ratio_median": None, "tensors": 0}
    return {"activation_ratio_median": round(float(np.median(ratios)), 4), "tensors": len(ratios),
            "activation_ratio_range": [round(float(min(ratios)), 4), round(float(max(ratios)), 4)]}


def check_calibration_set(
    model: Any, metadata: Dict[str, str], spec: ModelSpec, images: Sequence[Path], val_images: Optional[Sequence[Path]] = None,
) -> CalibrationCheck:
    """Compare the calibration `images` with the training statistics and the validation activations."""
    check = CalibrationCheck()
    check.details["images"] = len(images)
    if len(images) < MIN_CALIBRATION_IMAGES:
        check.findings.append(f"only {len(images)} image(s) (< {MIN_CALIBRATION_IMAGES})")
    train_stats = json_field(metadata, KEY_DATA_STATS)
    if isinstance(train_stats, dict) and train_stats.get("histogram"):
        compared = compare_stats(train_stats, compute_data_stats(images, spec))
        check.findings.extend(compared.pop("findings"))
        check.details["training_stats"] = compared
    else:
        check.details["training_stats"] = "skipped: the model has no stored training statistics (exported before issue 14)"
    if val_images:
        calib_peaks = activation_ranges(model, spec, list(images)[:ACTIVATION_IMAGES])
        val_peaks = activation_ranges(model, spec, list(val_images)[:ACTIVATION_IMAGES])
        compared_act = compare_activations(calib_peaks, val_peaks)
        check.details["activations"] = compared_act
        ratio = compared_act["activation_ratio_median"]
        if ratio is not None and not ACTIVATION_RATIO_RANGE[0] <= ratio <= ACTIVATION_RATIO_RANGE[1]:
            check.findings.append(
                f"fp32 activation ranges {ratio:.2f}x those of the validation images (outside "
                f"{ACTIVATION_RATIO_RANGE[0]:g}-{ACTIVATION_RATIO_RANGE[1]:g})"
            )
    else:
        check.details["activations"] = "skipped: no validation images known"
    return check
