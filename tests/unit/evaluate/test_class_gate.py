"""The per-class gate verdict (issue 14 item 1), on hand-made evaluate results: no model, no files."""

from __future__ import annotations

import math
from typing import List, Optional

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.evaluate.class_gate import DEFAULT_MAX_CLASS_DROP, class_drop_limit, judge

NAN = float("nan")


def _result(iou: List[float], dice: float, truth: Optional[List[int]] = None) -> dict:
    """An evaluate()-shaped dict; `truth` = truth pixels per class (the confusion rows' sums)."""
    truth = truth or [100] * len(iou)
    confusion = [[t if i == j else 0 for j in range(len(iou))] for i, t in enumerate(truth)]
    valid = [x for x in iou if not math.isnan(x)]
    return {"iou": iou, "miou": sum(valid) / len(valid), "dice": dice, "confusion": confusion,
            "class_names": [f"c{i}" for i in range(len(iou))]}


def test_mean_hides_a_degraded_class_the_class_check_does_not() -> None:
    """CamVid-like: mIoU moves by 0.004, one class loses 0.04 -> fails on the class, not on the mean."""
    ref = _result([0.90, 0.80, 0.60, 0.70], 0.8)
    cand = _result([0.91, 0.81, 0.56, 0.71], 0.8)
    verdict = judge(ref, cand, binary=False, max_drop=0.01)
    assert verdict.metric == "miou" and verdict.mean_passed and abs(verdict.mean_drop) < 0.01
    assert not verdict.classes_passed and not verdict.passed
    assert verdict.worst_class == "c2" and verdict.worst_class_drop == pytest.approx(0.04)
    text = verdict.failure_text()
    assert "class c2 IoU 0.5600 vs fp32 0.6000" in text and "--max-class-drop 0.03" in text and "mIoU" not in text


def test_default_class_limit_follows_a_raised_max_drop() -> None:
    assert class_drop_limit(0.01, None) == DEFAULT_MAX_CLASS_DROP == 0.03
    assert class_drop_limit(0.05, None) == 0.05
    assert class_drop_limit(0.05, 0.01) == 0.01  # given explicitly: as given
    with pytest.raises(EdgeUnetError, match="--max-class-drop"):
        class_drop_limit(0.01, -0.1)
    ref, cand = _result([0.9, 0.6], 0.6), _result([0.9, 0.56], 0.56)
    assert not judge(ref, cand, binary=False, max_drop=0.05, max_class_drop=0.03).passed
    assert judge(ref, cand, binary=False, max_drop=0.05).passed  # limit max(0.03, 0.05)


def test_binary_checks_foreground_only_and_uses_dice_for_the_mean() -> None:
    ref = _result([0.95, 0.70], dice=0.82)
    cand = _result([0.80, 0.69], dice=0.815)  # background lost 0.15: not a class the binary check counts
    verdict = judge(ref, cand, binary=True, max_drop=0.01)
    assert verdict.metric == "dice" and verdict.passed and verdict.worst_class == "c1"
    assert [c.checked for c in verdict.classes] == [False, True]
    worse = _result([0.95, 0.60], dice=0.815)
    assert not judge(ref, worse, binary=True, max_drop=0.01).passed


def test_classes_absent_from_the_labels_are_skipped() -> None:
    """No truth pixels: NaN IoU in the reference (or 0 in a candidate that predicts it) is not a drop."""
    ref = _result([0.9, NAN, 0.7], 0.8, truth=[100, 0, 100])
    cand = _result([0.9, 0.0, 0.7], 0.8, truth=[100, 0, 100])
    cand["miou"] = ref["miou"]  # only the class check is under test here
    verdict = judge(ref, cand, binary=False, max_drop=0.01)
    assert verdict.passed and [c.checked for c in verdict.classes] == [True, False, True]


def test_mean_failure_text_keeps_the_old_dice_wording() -> None:
    ref, cand = _result([0.9, 0.7], 0.8), _result([0.9, 0.69], 0.7)
    verdict = judge(ref, cand, binary=True, max_drop=0.01)
    assert not verdict.mean_passed and verdict.classes_passed
    assert verdict.failure_text().startswith("Dice 0.7000 vs fp32 0.8000 (drop 0.1000 > --max-drop 0.01)")


def test_nan_mean_fails_and_no_checkable_class_passes_the_class_check() -> None:
    ref, cand = _result([0.9, 0.7], 0.8), _result([0.9, 0.7], NAN)
    assert not judge(ref, cand, binary=True, max_drop=0.01).passed
    empty = _result([0.9, NAN], 0.8, truth=[10, 0])
    verdict = judge(empty, empty, binary=True, max_drop=0.01)
    assert verdict.classes_passed and "no class" in verdict.worst_text()
