"""One confusion matrix for training, `evaluate`, the accuracy gate and `bench`.

Works on numpy arrays and on torch tensors (counted on the tensor's own device, then a tiny
CxC matrix comes back to the host); torch is never imported here, so the edge path can use it.

Conventions: pixel accuracy over all pixels; IoU and Dice per class; `miou` is the mean IoU over
all classes; `dice` is the mean Dice over the foreground classes (for a binary model, the Dice of the
positive class), because background Dice is large and flattering. Truth pixels labelled IGNORE_LABEL
(void, letterbox padding) are dropped before counting, whatever the prediction there. A class absent from both truth
and prediction has no score (NaN) and is left out of the means.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from edgeunet.core.spec import IGNORE_LABEL


def confusion_matrix(pred: Any, target: Any, num_classes: int) -> np.ndarray:
    """CxC counts, rows = truth, columns = prediction. `pred`/`target`: class ids of equal shape."""
    if hasattr(pred, "detach"):  # torch tensor: count where it lives
        target_t = target.reshape(-1).long()
        keep = target_t != IGNORE_LABEL
        idx = target_t[keep] * num_classes + pred.reshape(-1).long()[keep]
        counts = idx.bincount(minlength=num_classes * num_classes)
        return counts.cpu().numpy().astype(np.int64).reshape(num_classes, num_classes)
    pred_a = np.asarray(pred).reshape(-1).astype(np.int64)
    target_a = np.asarray(target).reshape(-1).astype(np.int64)
    if pred_a.shape != target_a.shape:
        raise ValueError(f"prediction has {pred_a.size} pixels, truth {target_a.size}")
    keep = target_a != IGNORE_LABEL
    counts = np.bincount(target_a[keep] * num_classes + pred_a[keep], minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def scores(cm: np.ndarray) -> Dict[str, Any]:
    """Pixel accuracy, per-class IoU / Dice, mIoU, mean foreground Dice from a confusion matrix."""
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    truth = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    union = truth + predicted - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        dice = np.where(truth + predicted > 0, 2 * tp / (truth + predicted), np.nan)
    total = cm.sum()
    foreground = dice[1:] if len(dice) > 1 else dice
    return {
        "pixel_acc": float(tp.sum() / total) if total else float("nan"),
        "iou": [float(x) for x in iou],
        "dice_per_class": [float(x) for x in dice],
        "miou": _nanmean(iou),
        "dice": _nanmean(foreground),
    }


def _nanmean(values: np.ndarray) -> float:
    valid = values[~np.isnan(values)]
    return float(valid.mean()) if valid.size else float("nan")


class ConfusionMatrix:
    """Accumulates counts over many batches; `scores()` at the end."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, pred: Any, target: Any) -> None:
        self.matrix += confusion_matrix(pred, target, self.num_classes)

    def scores(self) -> Dict[str, Any]:
        return scores(self.matrix)


def format_row(name: str, result: Dict[str, Any], class_names: Optional[List[str]] = None) -> Dict[str, str]:
    row = {"model": name, "pixel_acc": f"{result['pixel_acc']:.4f}", "mIoU": f"{result['miou']:.4f}", "Dice": f"{result['dice']:.4f}"}
    for i, value in enumerate(result["iou"]):
        label = class_names[i] if class_names and i < len(class_names) else str(i)
        row[f"IoU {label}"] = f"{value:.4f}"
    return row


def per_class_rows(result: Dict[str, Any], class_names: Optional[List[str]] = None) -> List[Dict[str, str]]:
    """One row per class (IoU, Dice, share of the truth pixels): readable where one wide row of 11 classes is not."""
    truth_pixels = np.asarray(result.get("confusion", []), dtype=np.float64).sum(axis=1) if result.get("confusion") else None
    total = float(truth_pixels.sum()) if truth_pixels is not None else 0.0
    rows = []
    for i, (iou, dice) in enumerate(zip(result["iou"], result["dice_per_class"])):
        row = {"class": class_names[i] if class_names and i < len(class_names) else str(i), "IoU": f"{iou:.4f}", "Dice": f"{dice:.4f}"}
        if truth_pixels is not None and total > 0:
            row["pixels"] = f"{100 * truth_pixels[i] / total:.1f}%"
        rows.append(row)
    return rows
