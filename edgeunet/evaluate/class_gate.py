"""The accuracy gate's verdict, class by class: a pure function of two `evaluate` results.

Why per class: on a multi-class model the mean hides a class that degrades (CamVid: entropy PTQ moved mIoU by
0.0004 while pavement lost 0.014). So besides the mean (Dice for binary models, whose background score flatters;
mIoU for multi-class ones) every class's IoU drop is checked against `max_class_drop`.

Which classes count: binary models, the foreground class(es) (background IoU only echoes the foreground's errors);
multi-class models, every class the model predicts. A class with no truth pixel in the validation labels has no
IoU to lose (NaN) and is skipped; ignored labels (void) never reach the confusion matrix (core/metrics).
No files, no runtime: unit-testable with hand-made numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from edgeunet.core.errors import EdgeUnetError

# The default worst-class limit: 3 IoU points. Smaller than this is within the noise of a 20-60 image validation
# split (one image more or less moves a small class by ~0.01-0.02); larger lets a class visibly degrade.
DEFAULT_MAX_CLASS_DROP = 0.03


def class_drop_limit(max_drop: float, max_class_drop: Optional[float]) -> float:
    """--max-class-drop as given, else max(0.03, --max-drop): a user who raised --max-drop raised both."""
    if max_class_drop is None:
        return max(DEFAULT_MAX_CLASS_DROP, max_drop)
    if not max_class_drop >= 0:  # also NaN
        raise EdgeUnetError(f"--max-class-drop {max_class_drop}: must be 0 or more (the largest IoU drop of one class, e.g. 0.03)")
    return float(max_class_drop)


@dataclass
class ClassScore:
    name: str
    reference_iou: float
    candidate_iou: float
    drop: float
    checked: bool  # False: no truth pixels (NaN), or the background of a binary model


@dataclass
class Verdict:
    """Mean and per-class drops with their limits; `passed` when both hold."""

    metric: str  # dice (binary) | miou (multi-class)
    reference_mean: float
    candidate_mean: float
    mean_drop: float
    max_drop: float
    max_class_drop: float
    classes: List[ClassScore] = field(default_factory=list)
    worst_class: str = ""
    worst_class_drop: float = float("nan")

    @property
    def mean_passed(self) -> bool:
        return bool(self.mean_drop <= self.max_drop)

    @property
    def classes_passed(self) -> bool:
        return not (self.worst_class_drop > self.max_class_drop)  # NaN (no class checked) passes

    @property
    def passed(self) -> bool:
        return self.mean_passed and self.classes_passed

    def worst_text(self) -> str:
        if not self.worst_class:
            return "no class with labelled pixels to check"
        return f"worst class {self.worst_class} IoU drop {self.worst_class_drop:+.4f} (max {self.max_class_drop:g})"

    def failure_text(self) -> str:
        """What failed, with both numbers (the GateError line)."""
        label = "Dice" if self.metric == "dice" else "mIoU"
        parts = []
        if not self.mean_passed:
            parts.append(f"{label} {self.candidate_mean:.4f} vs fp32 {self.reference_mean:.4f} (drop {self.mean_drop:.4f} > --max-drop {self.max_drop:g})")
        if not self.classes_passed:
            worst = next(c for c in self.classes if c.name == self.worst_class)
            parts.append(f"class {worst.name} IoU {worst.candidate_iou:.4f} vs fp32 {worst.reference_iou:.4f} "
                         f"(drop {worst.drop:.4f} > --max-class-drop {self.max_class_drop:g})")
        return " and ".join(parts) or "passed"

    def class_lines(self) -> List[str]:
        return [
            f"  {c.name:<16} IoU fp32 {c.reference_iou:.4f}  candidate {c.candidate_iou:.4f}  drop {c.drop:+.4f}"
            + ("" if c.checked else "  (not checked)")
            for c in self.classes
        ]


def _truth_pixels(result: Dict[str, Any], count: int) -> List[float]:
    confusion = result.get("confusion")
    if not confusion:
        return [float("nan")] * count
    return [float(sum(row)) for row in confusion]


def judge(ref: Dict[str, Any], cand: Dict[str, Any], binary: bool, max_drop: float, max_class_drop: Optional[float] = None) -> Verdict:
    """The verdict on `cand` against `ref` (both `evaluate` results on the same images)."""
    metric = "dice" if binary else "miou"
    limit = class_drop_limit(max_drop, max_class_drop)
    ref_iou, cand_iou = list(ref["iou"]), list(cand["iou"])
    names = list(ref.get("class_names") or [str(i) for i in range(len(ref_iou))])
    truth = _truth_pixels(ref, len(ref_iou))
    classes = []
    for i, (r, c) in enumerate(zip(ref_iou, cand_iou)):
        has_truth = not (truth[i] == 0 or math.isnan(r))
        counted = has_truth and not (binary and i == 0)
        c_value = 0.0 if math.isnan(c) and has_truth else c
        classes.append(ClassScore(names[i] if i < len(names) else str(i), float(r), float(c_value), float(r - c_value), counted))
    checked = [c for c in classes if c.checked]
    worst = max(checked, key=lambda c: c.drop) if checked else None
    reference_mean, candidate_mean = float(ref[metric]), float(cand[metric])
    return Verdict(
        metric=metric, reference_mean=reference_mean, candidate_mean=candidate_mean, mean_drop=reference_mean - candidate_mean,
        max_drop=max_drop, max_class_drop=limit, classes=classes,
        worst_class=worst.name if worst else "", worst_class_drop=worst.drop if worst else float("nan"),
    )
