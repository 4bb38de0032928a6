"""INT8 that keeps its accuracy: check the calibration set, calibrate, gate per class, explain, fall back to float.

The one INT8 path (`quantize_and_gate`, used by `edgeunet calibrate`, `build-engine --int8` and bench's INT8 rows):
1. arguments, source file, image sampling and the calibration-set check (export.int8_options.prepare) before minutes
   of calibration; --strict-calibration makes the check an error; the gate's validation images are never sampled;
2. calibrate in memory: export.quantize (ONNX Runtime) or, with engine="modelopt", export.modelopt_ptq (NVIDIA
   ModelOpt's ONNX PTQ), on the same images;
3. --keep-float layers are left in float (export.qdq_layers.keep_float: Q/DQ removed from their inputs/weights);
4. the accuracy gate (evaluate.gate + evaluate.class_gate): the mean and the worst class;
5. --sensitivity report.md and, when the gate fails under --fallback auto, the greedy fallback: the layer whose
   float copy recovers most is freed first, re-gating each time, until the gate passes; then layers that turned
   out unnecessary are put back (fewest float layers). The float list goes into the model metadata
   (edgeunet.float_layers) and the manifest; build-engine copies it into the engine sidecar;
6. the manifest and the ONNX are written once, after all of that (export.int8_result.write_result); a failed gate
   renames the ONNX *.rejected.onnx.
No torch (edge path).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from edgeunet.data.dataset import Sample
from edgeunet.evaluate.gate import GateError, GateResult, gate_result, reject, rejected_name
from edgeunet.export.end_to_end_steps import calibrate_end_to_end, is_end_to_end_file
from edgeunet.export.int8_options import Int8Job, Int8Options, Warn, prepare
from edgeunet.export.int8_result import CalibrationResult, stamp, write_result
from edgeunet.export.qdq_layers import quantized_layers
from edgeunet.export.quantize import Quantized
from edgeunet.export.sensitivity import SENSITIVITY_IMAGES, SensitivityResult, VariantScorer, layer_sensitivity

__all__ = ["CalibrationResult", "Int8Options", "greedy_fallback", "parse_layer_list", "quantize_and_gate"]


def parse_layer_list(text: Optional[str]) -> List[str]:
    """'a,b , c' -> ['a', 'b', 'c'] (node names have no commas in edgeunet exports)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


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


def quantize_and_gate(
    onnx_path: Path, data: Path, out: Path, options: Int8Options = Int8Options(), warn: Warn = lambda line: None,
) -> Tuple[CalibrationResult, Optional[GateResult]]:
    """calibrate + check + gate (+ sensitivity, + float fallback): see the module docstring for the order.

    Bad arguments are refused before minutes of calibration are spent; `warn` receives one-line warnings.
    A failed gate raises GateError after the file was written as *.rejected.onnx.
    """
    if is_end_to_end_file(onnx_path):  # Q/DQ only inside the network: calibrate it alone, then wrap it again
        return calibrate_end_to_end(Path(onnx_path), Path(out), lambda net, net_out: quantize_and_gate(net, data, net_out, options, warn))
    job = prepare(onnx_path, data, out, options, warn)
    quantized = _quantize(job)
    stamp(job, quantized)
    return _gate_and_write(job, quantized, warn)


def _quantize(job: Int8Job) -> Quantized:
    """The engine's INT8 graph, in memory."""
    options, workdir = job.options, job.out.parent
    if options.engine == "modelopt":
        from edgeunet.export.modelopt_ptq import modelopt_quantize

        return modelopt_quantize(job.onnx_path, job.images, job.spec, options.method, workdir)
    from edgeunet.export.quantize import ort_quantize

    return ort_quantize(job.onnx_path, job.images, job.spec, options.method, options.target, options.percentile, workdir,
                        options.progress)


def _user_float_layers(job: Int8Job, qmodel: Any, warn: Warn) -> List[str]:
    """--keep-float names that are quantized layers of this graph (the others are float anyway: one note each)."""
    layers = quantized_layers(qmodel) if job.options.target == "tensorrt" else []
    for name in job.options.keep_float:
        if name not in layers:
            warn(f"note: --keep-float {name}: not quantized for target {job.options.target} (ConvTranspose stays float anyway)")
    return [name for name in job.options.keep_float if name in layers]


def _gate_and_write(job: Int8Job, quantized: Quantized, warn: Warn) -> Tuple[CalibrationResult, Optional[GateResult]]:
    qmodel = quantized.model
    float_layers = _user_float_layers(job, qmodel, warn)
    if not job.samples:
        return write_result(job, quantized, keep_float_model(qmodel, float_layers), float_layers, {"float_layers": float_layers}), None
    gating = _Gating(job, qmodel)
    try:
        return gating.run(quantized, float_layers, warn)
    finally:
        gating.close()


class _Gating:
    """The gate, the sensitivity report and the float fallback over one stamped INT8 graph (scorers shared by all three)."""

    def __init__(self, job: Int8Job, qmodel: Any) -> None:
        assert job.samples
        self.job, self.options, self.qmodel = job, job.options, qmodel
        self.scorer = VariantScorer(qmodel, job.onnx_path, job.samples, workdir=job.out.parent)
        few = len(job.samples) <= SENSITIVITY_IMAGES
        self.sens_scorer = self.scorer if few else VariantScorer(qmodel, job.onnx_path, _subset(job.samples, SENSITIVITY_IMAGES), job.out.parent)

    def close(self) -> None:
        self.scorer.close()
        if self.sens_scorer is not self.scorer:
            self.sens_scorer.close()

    def verdict(self, scores: Dict[str, Any]) -> GateResult:
        job = self.job
        return gate_result(job.onnx_path, job.out, self.scorer.reference(), scores, self.options.max_drop, self.options.max_class_drop,
                           len(self.scorer.samples), job.shown_source, job.spec.is_binary)

    def judge(self, float_layers: Sequence[str]) -> GateResult:
        return self.verdict(self.scorer.scores(float_layers))

    def run(self, quantized: Quantized, float_layers: List[str], warn: Warn) -> Tuple[CalibrationResult, Optional[GateResult]]:
        options = self.options
        result = self.judge(float_layers) if options.gate else None
        failed_auto = result is not None and not result.passed and options.fallback == "auto"
        sens: Optional[SensitivityResult] = None
        if options.sensitivity is not None or failed_auto:
            sens = layer_sensitivity(self.sens_scorer, self.job.spec, alone=options.sensitivity_alone)
        fallback_info: Dict[str, Any] = {"mode": options.fallback}
        if failed_auto:
            assert result is not None and sens is not None
            warn(f"note: {result.line()}; --fallback auto: leaving the most sensitive layers in float ...")
            float_layers = self._fallback(quantized, sens, float_layers, fallback_info)
            result = self.judge(float_layers)
            fallback_info.update(passed=result.passed, float_layers=float_layers)
        if result is not None:
            result.float_layers = list(float_layers)
        extra: Dict[str, Any] = {"float_layers": float_layers, "fallback": fallback_info}
        if sens is not None:
            extra["sensitivity"] = {"report": str(options.sensitivity) if options.sensitivity else None, "order": sens.order(),
                                    "metric": sens.metric, "images": sens.images}
        passed = result is not None and result.passed
        calib = write_result(self.job, quantized, keep_float_model(self.qmodel, float_layers), float_layers, extra,
                             result if passed else None)
        if options.sensitivity is not None and sens is not None:
            from edgeunet.export.sensitivity_report import write_report

            calib.reports = write_report(sens, options.sensitivity, self.job.out.name, self.job.shown_source, float_layers)
        if result is not None and not passed:
            reject(result, hint="calibrate with more, representative images, another --method, or try --fallback auto")
        return calib, result

    def _fallback(self, quantized: Quantized, sens: SensitivityResult, start: List[str], info: Dict[str, Any]) -> List[str]:
        """The fewest float layers that pass; when none do, the all-float graph is written as *.rejected.onnx and GateError raised."""
        chosen = greedy_fallback(self.scorer, sens.order(), start, lambda scores: self.verdict(scores).passed)
        info.update(evaluations=self.scorer.evaluations + (self.sens_scorer.evaluations if self.sens_scorer is not self.scorer else 0))
        if chosen is not None:
            return chosen
        layers = quantized_layers(self.qmodel)
        all_float = self.judge(layers)
        write_result(self.job, quantized, keep_float_model(self.qmodel, layers), layers,
                     {"float_layers": layers, "fallback": {**info, "passed": False}})
        rejected = rejected_name(self.job.out)
        self.job.out.replace(rejected)
        raise GateError(
            f"--fallback auto: the accuracy gate fails even with all {len(layers)} quantized layers in float "
            f"({all_float.verdict.failure_text() if all_float.verdict else 'failed'}); kept as {rejected}; "
            "calibrate on more representative images or ship fp16"
        )


def keep_float_model(qmodel: Any, float_layers: Sequence[str]) -> Any:
    from edgeunet.export.qdq_layers import keep_float

    return keep_float(qmodel, float_layers) if float_layers else qmodel
