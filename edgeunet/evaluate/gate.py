"""The accuracy gate: a converted model (INT8, FP16) is scored against its fp32 source before anyone uses it.

Why here and not in export: the gate needs the whole runtime (a Segmenter over ONNX Runtime) and the one metrics
module, and export's conversions need the gate; keeping it in evaluate/ keeps the import direction one-way.
Both models are scored on the same labelled images with ONNX Runtime on the CPU; a candidate whose mean score
(Dice for a binary model, mIoU for a multi-class one) dropped more than `max_drop`, or one of whose classes lost more
than `max_class_drop` IoU, is renamed `*.rejected.onnx`, so it is never used by mistake, yet kept for inspection.
The per-class check exists because a mean hides a class that degrades (CamVid: entropy PTQ moved mIoU by 0.0004
while pavement lost 0.014); the verdict itself is `evaluate.class_gate.judge`, a pure function.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_GATE, KEY_VAL_SPLIT, json_field, load_onnx, read_metadata, read_spec, save_onnx, set_metadata
from edgeunet.data.dataset import Sample, find_samples
from edgeunet.data.splits import recorded_validation
from edgeunet.evaluate.class_gate import Verdict, class_drop_limit, judge
from edgeunet.evaluate.evaluate import evaluate

GATE_EXIT_CODE = 4  # distinct from user errors (2) and "TensorRT missing" (3): scripts can tell a refused model apart


def check_max_drop(max_drop: float) -> None:
    """The one check of --max-drop (calibrate, convert, build-engine, the gate itself)."""
    if not max_drop >= 0:  # also catches NaN
        raise EdgeUnetError(f"--max-drop {max_drop}: must be 0 or more "
                            "(the largest mean drop you accept, e.g. 0.01: Dice for binary models, mIoU for multi-class)")


class GateError(EdgeUnetError):
    """The candidate lost more accuracy than allowed; it was renamed *.rejected.onnx."""

    exit_code = GATE_EXIT_CODE


@dataclass
class GateResult:
    """Both models scored on the same labelled images; `drop` = reference - candidate of the mean `metric`."""

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
    metric: str = "dice"
    verdict: Optional[Verdict] = None
    float_layers: List[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        name = self.candidate_precision or "candidate"
        if self.metric == "miou":
            mean = (f"mIoU fp32 {self.reference_miou:.4f}, {name} {self.candidate_miou:.4f}, drop {self.drop:+.4f} (max {self.max_drop:g}); "
                    f"Dice {self.reference_dice:.4f} -> {self.candidate_dice:.4f}")
        else:
            mean = (f"Dice fp32 {self.reference_dice:.4f}, {name} {self.candidate_dice:.4f}, drop {self.drop:+.4f} (max {self.max_drop:g}); "
                    f"mIoU {self.reference_miou:.4f} -> {self.candidate_miou:.4f}")
        classes = f"; {self.verdict.worst_text()}" if self.verdict is not None else ""
        return f"accuracy gate {verdict} on {self.images} image(s) ({self.val_source}): {mean}{classes}"

    def class_lines(self) -> List[str]:
        """One line per class: IoU fp32 -> candidate, drop (the table behind the one-line verdict)."""
        return self.verdict.class_lines() if self.verdict is not None else []

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["reference"], data["candidate"] = str(self.reference), str(self.candidate)
        return data


def gate_result(
    reference: Path, candidate: Path, ref: Dict[str, Any], cand: Dict[str, Any], max_drop: float,
    max_class_drop: Optional[float], images: int, source: str, binary: bool,
) -> GateResult:
    """The gate's verdict from two `evaluate` results (no files touched): the mean and every class."""
    verdict = judge(ref, cand, binary=binary, max_drop=max_drop, max_class_drop=max_class_drop)
    return GateResult(
        reference=Path(reference), candidate=Path(candidate), reference_dice=float(ref["dice"]), candidate_dice=float(cand["dice"]),
        drop=verdict.mean_drop, max_drop=max_drop, passed=verdict.passed, images=images, val_source=source,
        reference_miou=float(ref["miou"]), candidate_miou=float(cand["miou"]), candidate_precision=str(cand.get("precision", "")),
        metric=verdict.metric, verdict=verdict,
    )


def reject(result: GateResult, hint: str = "calibrate with more, representative images or another --method") -> None:
    """Rename the failed candidate *.rejected.onnx and raise GateError with one line giving the failing numbers."""
    candidate = Path(result.candidate)
    rejected = rejected_name(candidate)
    os.replace(candidate, rejected)
    result.candidate = rejected
    assert result.verdict is not None
    raise GateError(
        f"accuracy gate failed: {candidate.name} {result.verdict.failure_text()} on {result.images} image(s); "
        f"kept as {rejected}; {hint}"
    )


def record_gate(candidate: Path, result: GateResult) -> None:
    """Write the gate result into the accepted candidate's metadata (edgeunet.gate)."""
    model = load_onnx(candidate)
    set_metadata(model, {KEY_GATE: result.to_dict()})
    save_onnx(model, candidate, check=False)


def rejected_name(candidate: Path) -> Path:
    """model.int8.onnx -> model.int8.rejected.onnx (the suffix still says ONNX; the name says do not use)."""
    return candidate.with_name(f"{candidate.stem}.rejected{candidate.suffix}")


def validation_samples(reference: Path, val_data: Optional[Path] = None) -> Tuple[List[Sample], str]:
    """Labelled images for the gate.

    `val_data` given: every labelled image in it. Otherwise the model's own validation split, as
    recorded at export and re-read by data/splits.py (the same images, or whole sequences, the run validated on,
    or its --val-data folder), so `edgeunet calibrate model.onnx --data DIR` is gated without extra flags.
    """
    if val_data is not None:
        samples = find_samples(val_data)
        return samples, f"{val_data}"
    found = recorded_validation(json_field(read_metadata(load_onnx(reference)), KEY_VAL_SPLIT) or {})
    if found is None:
        raise EdgeUnetError(
            f"{reference}: no validation images known for the accuracy gate; pass --val-data DIR (images/ + masks/)"
        )
    return found


def _evaluate(model: Path, samples: Sequence[Sample], data: Path) -> Dict[str, Any]:

    return evaluate(model, data, backend="onnxruntime", device="cpu", samples=samples)


def accuracy_gate(
    reference: Path,
    candidate: Path,
    val_data: Optional[Path] = None,
    max_drop: float = 0.01,
    samples: Optional[Sequence[Sample]] = None,
    max_class_drop: Optional[float] = None,
) -> GateResult:
    """Score `reference` (fp32) and `candidate` on the same images with ONNX Runtime on the CPU.

    Passes when the mean drop (Dice for binary, mIoU for multi-class) <= max_drop and no class's IoU dropped more
    than max_class_drop (default max(0.03, max_drop); see class_gate). On failure the candidate is renamed
    (rejected_name) and GateError is raised with one line giving the failing numbers. On success the
    gate result is written into the candidate's metadata (edgeunet.gate).
    `val_data=None` uses the model's recorded validation split (see validation_samples).
    """
    reference, candidate = Path(reference), Path(candidate)
    check_max_drop(max_drop)
    class_drop_limit(max_drop, max_class_drop)
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
    result = gate_result(reference, candidate, ref, cand, max_drop, max_class_drop, len(samples), source, ref_spec.is_binary)
    if not result.passed:
        reject(result)
    record_gate(candidate, result)
    return result
