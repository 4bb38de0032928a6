"""The accuracy gate: a converted model (INT8, FP16) is scored against its fp32 source before anyone uses it.

Why here and not in export: the gate needs the whole runtime (a Segmenter over ONNX Runtime) and the one metrics
module, and export's conversions need the gate; keeping it in evaluate/ keeps the import direction one-way.
Both models are scored on the same labelled images with ONNX Runtime on the CPU; a candidate whose Dice dropped
more than `max_drop` is renamed `*.rejected.onnx`, so it is never used by mistake, yet kept for inspection.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_GATE, KEY_VAL_SPLIT, json_field, load_onnx, read_metadata, read_spec, save_onnx, set_metadata
from edgeunet.data.dataset import Sample, find_samples, split_samples
from edgeunet.evaluate.evaluate import evaluate

GATE_EXIT_CODE = 4  # distinct from user errors (2) and "TensorRT missing" (3): scripts can tell a refused model apart


def check_max_drop(max_drop: float) -> None:
    """The one check of --max-drop (calibrate, convert, build-engine, the gate itself)."""
    if not max_drop >= 0:  # also catches NaN
        raise EdgeUnetError(f"--max-drop {max_drop}: must be 0 or more (the largest Dice drop you accept, e.g. 0.01)")


class GateError(EdgeUnetError):
    """The candidate lost more accuracy than allowed; it was renamed *.rejected.onnx."""

    exit_code = GATE_EXIT_CODE


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
    check_max_drop(max_drop)
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
