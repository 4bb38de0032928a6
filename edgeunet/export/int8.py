"""INT8 that keeps its accuracy: check the calibration set, calibrate, gate per class, explain, fall back to float.

The order (`quantize_and_gate`, used by `edgeunet calibrate` and `build-engine --int8`):
1. calibration-set check (export.calib_check) before minutes of calibration; --strict-calibration makes it an error;
2. calibrate (export.quantize, or with engine="modelopt" NVIDIA ModelOpt's ONNX PTQ, export.modelopt_ptq) on the same
   sampled images, the gate's validation images excluded;
3. --keep-float layers are left in float (export.qdq_layers.keep_float: Q/DQ removed from their inputs/weights);
4. the accuracy gate (evaluate.gate + evaluate.class_gate): the mean and the worst class;
5. --sensitivity report.md and, when the gate fails under --fallback auto, the greedy fallback: the layer whose
   float copy recovers most is freed first, re-gating each time, until the gate passes; then layers that turned
   out unnecessary are put back (fewest float layers). The float list goes into the model metadata
   (edgeunet.float_layers) and the manifest; build-engine copies it into the engine sidecar.
No torch (edge path).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.atomic import atomic_write_text, json_text, sha256_bytes
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_CALIBRATION, KEY_FLOAT_LAYERS, json_field, load_onnx, read_metadata, save_onnx, set_metadata
from edgeunet.core.spec import ModelSpec
from edgeunet.data.dataset import Sample
from edgeunet.data.splits import sample_images
from edgeunet.evaluate.class_gate import class_drop_limit
from edgeunet.evaluate.gate import GateError, GateResult, check_max_drop, gate_result, record_gate, reject, validation_samples
from edgeunet.export.calib_check import check_calibration_set
from edgeunet.export.end_to_end_steps import calibrate_end_to_end, is_end_to_end_file
from edgeunet.export.qdq_layers import LAYER_OPS, MOVEMENT_OPS, quantized_layers
from edgeunet.export.quantize import DEFAULT_PERCENTILE, ENGINES, CalibrationResult, calibrate, check_calibrate_args
from edgeunet.export.sensitivity import SENSITIVITY_IMAGES, SensitivityResult, VariantScorer, layer_sensitivity

FALLBACKS = ("off", "auto")
Warn = Callable[[str], None]


def parse_layer_list(text: Optional[str]) -> List[str]:
    """'a,b , c' -> ['a', 'b', 'c'] (node names have no commas in edgeunet exports)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _check_options(target: str, fallback: str, gate: bool, keep: Sequence[str], sensitivity: Optional[Path], engine: str = "edgeunet",
                   method: str = "entropy") -> None:
    if engine not in ENGINES:
        raise EdgeUnetError(f"--engine {engine}: choose {' or '.join(ENGINES)}")
    if engine == "modelopt":
        from edgeunet.export.modelopt_ptq import METHODS as MODELOPT_METHODS

        if target != "tensorrt":
            raise EdgeUnetError("--engine modelopt makes a TensorRT Q/DQ graph; drop --target cpu")
        if keep or fallback == "auto" or sensitivity is not None:
            raise EdgeUnetError("--keep-float, --fallback auto and --sensitivity work on edgeunet's own graph: drop them or --engine modelopt")
        if method not in MODELOPT_METHODS:
            raise EdgeUnetError(f"--method {method} with --engine modelopt: choose {' or '.join(MODELOPT_METHODS)} (ModelOpt has no percentile)")
    if fallback not in FALLBACKS:
        raise EdgeUnetError(f"--fallback {fallback}: choose off or auto")
    if (keep or fallback == "auto" or sensitivity is not None) and target != "tensorrt":
        raise EdgeUnetError("--keep-float, --fallback auto and --sensitivity work on Q/DQ graphs: use --target tensorrt")
    if fallback == "auto" and not gate:
        raise EdgeUnetError("--fallback auto is driven by the accuracy gate: drop --no-gate")
    if sensitivity is not None and Path(sensitivity).suffix.lower() != ".md":
        raise EdgeUnetError(f"--sensitivity {sensitivity}: the report is Markdown; give a name ending in .md (a .png is written beside it)")


def _check_keep_names(model: Any, keep: Sequence[str]) -> None:
    """Before calibrating: names must be compute layers of the fp32 graph (quant_pre_process keeps node names)."""
    valid = [node.name for node in model.graph.node if node.op_type in LAYER_OPS + MOVEMENT_OPS]
    unknown = [name for name in keep if name not in valid]
    if unknown:
        shown = ", ".join(valid[:5]) + (", ..." if len(valid) > 5 else "")
        raise EdgeUnetError(f"--keep-float {','.join(unknown)}: no such layer in the model; valid names ({len(valid)}) include {shown}")


def _subset(samples: Sequence[Sample], count: int) -> List[Sample]:
    """At most `count` samples spread over the whole list (a sequence's first frames are all alike)."""
    samples = list(samples)
    step = max(1, math.ceil(len(samples) / count))
    return samples[::step][:count]


def greedy_fallback(
    scorer: VariantScorer, order: Sequence[str], start: Sequence[str], passes: Callable[[Dict[str, Any]], bool],
) -> Optional[List[str]]:
    """Float layers, fewest found: add by `order` until `passes`, then drop any added layer that is not needed.

    `start`: layers the user keeps float anyway. None when even every layer in float does not pass.
    """
    chosen = list(start)
    if passes(scorer.scores(chosen)):
        return chosen
    for name in order:
        if name in chosen:
            continue
        chosen.append(name)
        if passes(scorer.scores(chosen)):
            break
    else:
        return None
    for name in list(chosen[len(start):-1]):  # the last one added was needed; earlier ones may not be any more
        trial = [n for n in chosen if n != name]
        if passes(scorer.scores(trial)):
            chosen = trial
    return chosen


def _finish_manifest(calib: CalibrationResult, out: Path, extra: Dict[str, Any], float_layers: List[str], qmodel: Any) -> None:
    """Rewrite the manifest with what happened after calibration, and the model's metadata to match its new sha256."""
    manifest = {**calib.manifest, **extra}
    text = json_text(manifest)
    calib.manifest, calib.manifest_sha256 = manifest, sha256_bytes(text.encode("utf-8"))
    atomic_write_text(calib.manifest_path, text)
    calibration = json_field(read_metadata(qmodel), KEY_CALIBRATION) or {}
    calibration["manifest_sha256"] = calib.manifest_sha256
    set_metadata(qmodel, {KEY_CALIBRATION: calibration, KEY_FLOAT_LAYERS: float_layers})
    save_onnx(qmodel, out, check=False)


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
    percentile: float = DEFAULT_PERCENTILE,
    max_class_drop: Optional[float] = None,
    strict_calibration: bool = False,
    keep_float: Sequence[str] = (),
    fallback: str = "off",
    sensitivity: Optional[Path] = None,
    sensitivity_alone: bool = False,
    warn: Warn = lambda line: None,
    engine: str = "edgeunet",
) -> Tuple[CalibrationResult, Optional[GateResult]]:
    """calibrate + check + gate (+ sensitivity, + float fallback): see the module docstring for the order.

    Bad arguments are refused before minutes of calibration are spent; `warn` receives one-line warnings.
    `engine="modelopt"`: NVIDIA ModelOpt places the Q/DQ (TensorRT target, entropy/minmax, no float fallback).
    """
    onnx_path, data, out = Path(onnx_path), Path(data), Path(out)
    if is_end_to_end_file(onnx_path):  # Q/DQ only inside the network: calibrate it alone, then wrap it again
        options = {k: v for k, v in locals().items() if k not in ("onnx_path", "data", "out")}
        return calibrate_end_to_end(onnx_path, out, lambda net, net_out: quantize_and_gate(net, data, net_out, **options))
    check_max_drop(max_drop)
    class_drop_limit(max_drop, max_class_drop)
    keep = list(keep_float)
    _check_options(target, fallback, gate, keep, sensitivity, engine, method)
    model, metadata, spec = check_calibrate_args(onnx_path, out, num_images, method, target, percentile)
    _check_keep_names(model, keep)
    samples: Optional[List[Sample]] = None
    source = ""
    if gate or val_data is not None:
        samples, source = validation_samples(onnx_path, val_data)
    if sensitivity is not None and not samples:
        raise EdgeUnetError("--sensitivity needs labelled validation images: pass --val-data DIR (images/ + masks/)")
    exclude = [s.image for s in samples] if samples else ()
    images = sample_images(data, num_images, seed, exclude)
    check = check_calibration_set(model, metadata, spec, images, [s.image for s in samples] if samples else None)
    check.raise_if_strict(strict_calibration, data)  # before anything is written
    if not check.ok:
        warn(f"warning: {check.warning()} (--data {data}; --strict-calibration makes this an error)")
    if engine == "modelopt":
        from edgeunet.export.modelopt_ptq import modelopt_calibrate

        calib = modelopt_calibrate(onnx_path, data, out, num_images=num_images, method=method, seed=seed, manifest_dir=manifest_dir,
                                   exclude=exclude, images=images, manifest_extra={"calibration_check": check.to_dict()})
    else:
        calib = calibrate(onnx_path, data, out, num_images=num_images, method=method, seed=seed, target=target, manifest_dir=manifest_dir,
                          exclude=exclude, percentile=percentile, images=images, manifest_extra={"calibration_check": check.to_dict()})
    calib.check = check.to_dict()
    return _after_calibration(calib, onnx_path, out, spec, samples, source, val_data, gate, max_drop, max_class_drop, keep, fallback,
                              sensitivity, sensitivity_alone, warn)


def _after_calibration(
    calib: CalibrationResult, onnx_path: Path, out: Path, spec: ModelSpec, samples: Optional[List[Sample]], source: str,
    val_data: Optional[Path], gate: bool, max_drop: float, max_class_drop: Optional[float], keep: List[str], fallback: str,
    sensitivity: Optional[Path], sensitivity_alone: bool, warn: Warn,
) -> Tuple[CalibrationResult, Optional[GateResult]]:
    qmodel = load_onnx(out)
    layers = quantized_layers(qmodel) if calib.target == "tensorrt" else []
    float_layers = [name for name in keep if name in layers]
    for name in keep:
        if name not in layers:
            warn(f"note: --keep-float {name}: not quantized for target {calib.target} (ConvTranspose stays float anyway)")
    if not samples:
        _finish_manifest(calib, out, {"float_layers": float_layers}, float_layers, keep_float_model(qmodel, float_layers))
        calib.float_layers = float_layers
        return calib, None
    scorer = VariantScorer(qmodel, onnx_path, samples, workdir=out.parent)
    sens_scorer = scorer if len(samples) <= SENSITIVITY_IMAGES else VariantScorer(qmodel, onnx_path, _subset(samples, SENSITIVITY_IMAGES), out.parent)
    shown_source = str(val_data) if val_data is not None else source
    try:
        sens: Optional[SensitivityResult] = None
        result: Optional[GateResult] = None
        if gate:
            result = _judge(scorer, onnx_path, out, float_layers, max_drop, max_class_drop, shown_source, spec)
        if sensitivity is not None or (result is not None and not result.passed and fallback == "auto"):
            sens = layer_sensitivity(sens_scorer, spec, alone=sensitivity_alone)
        fallback_info: Dict[str, Any] = {"mode": fallback}
        if result is not None and not result.passed and fallback == "auto":
            assert sens is not None
            warn(f"note: {result.line()}; --fallback auto: leaving the most sensitive layers in float ...")

            def passes(scores: Dict[str, Any]) -> bool:
                return _verdict(scorer, onnx_path, out, scores, max_drop, max_class_drop, shown_source, spec).passed

            chosen = greedy_fallback(scorer, sens.order(), float_layers, passes)
            fallback_info.update(evaluations=scorer.evaluations + (sens_scorer.evaluations if sens_scorer is not scorer else 0))
            if chosen is None:
                all_float = _verdict(scorer, onnx_path, out, scorer.scores(layers), max_drop, max_class_drop, shown_source, spec)
                _finish_manifest(calib, out, {"float_layers": layers, "fallback": {**fallback_info, "passed": False}}, layers,
                                 keep_float_model(qmodel, layers))
                rejected = out.with_name(f"{out.stem}.rejected{out.suffix}")
                out.replace(rejected)
                raise GateError(
                    f"--fallback auto: the accuracy gate fails even with all {len(layers)} quantized layers in float "
                    f"({all_float.verdict.failure_text() if all_float.verdict else 'failed'}); kept as {rejected}; "
                    "calibrate on more representative images or ship fp16"
                )
            float_layers = chosen
            result = _judge(scorer, onnx_path, out, float_layers, max_drop, max_class_drop, shown_source, spec)
            fallback_info.update(passed=result.passed, float_layers=float_layers)
        if result is not None:
            result.float_layers = list(float_layers)
        extra: Dict[str, Any] = {"float_layers": float_layers, "fallback": fallback_info}
        if sens is not None:
            extra["sensitivity"] = {"report": str(sensitivity) if sensitivity else None, "order": sens.order(), "metric": sens.metric,
                                    "images": sens.images}
        _finish_manifest(calib, out, extra, float_layers, keep_float_model(qmodel, float_layers))
        calib.float_layers = float_layers
        if sensitivity is not None and sens is not None:
            from edgeunet.export.sensitivity_report import write_report

            calib.reports = write_report(sens, sensitivity, out.name, shown_source, float_layers)
        if result is not None:
            if not result.passed:
                reject(result, hint="calibrate with more, representative images, another --method, or try --fallback auto")
            record_gate(out, result)
        return calib, result
    finally:
        scorer.close()
        if sens_scorer is not scorer:
            sens_scorer.close()


def keep_float_model(qmodel: Any, float_layers: Sequence[str]) -> Any:
    from edgeunet.export.qdq_layers import keep_float

    return keep_float(qmodel, float_layers) if float_layers else qmodel


def _verdict(scorer: VariantScorer, reference: Path, candidate: Path, scores: Dict[str, Any], max_drop: float,
             max_class_drop: Optional[float], source: str, spec: ModelSpec) -> GateResult:
    return gate_result(reference, candidate, scorer.reference(), scores, max_drop, max_class_drop, len(scorer.samples), source,
                       spec.is_binary)


def _judge(scorer: VariantScorer, reference: Path, candidate: Path, float_layers: Sequence[str], max_drop: float,
           max_class_drop: Optional[float], source: str, spec: ModelSpec) -> GateResult:
    return _verdict(scorer, reference, candidate, scorer.scores(float_layers), max_drop, max_class_drop, source, spec)
