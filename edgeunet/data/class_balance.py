"""Class weights against imbalance: given by the user, or median-frequency balancing (Eigen & Fergus 2015).

Median frequency: freq(c) = pixels of c / pixels of the images where c appears; weight(c) = median(freq) / freq(c).
Rare classes (poles, signs, bicyclists in street scenes) then count as much in the loss as roads and sky.
Ignored pixels (IGNORE_LABEL) count nowhere.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

import numpy as np

from edgeunet.core.errors import EdgeUnetError


def parse_class_weights(value: Any, num_classes: int) -> Optional[List[float]]:
    """None, 'auto' (returned as None here: computed later from the masks) or 'w0,w1,...' / a list -> floats."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        weights = [float(item) for item in items if str(item).strip()]
    except ValueError:
        raise EdgeUnetError(f"--class-weights {value}: expected 'auto' or numbers like 1,2.5,0.8") from None
    if len(weights) != num_classes:
        raise EdgeUnetError(f"--class-weights gives {len(weights)} weights for {num_classes} classes; give one per class (void excluded) or 'auto'")
    if any(not np.isfinite(w) or w < 0 for w in weights):
        raise EdgeUnetError(f"--class-weights {value}: weights must be finite and 0 or more")
    return weights


def median_frequency_weights(masks: Iterable[np.ndarray], num_classes: int) -> List[float]:
    """One weight per class from class-id masks; a class never seen gets weight 1."""
    pixels = np.zeros(num_classes, dtype=np.float64)
    present_in = np.zeros(num_classes, dtype=np.float64)
    for mask in masks:
        counts = np.bincount(mask.ravel(), minlength=256)[:num_classes].astype(np.float64)
        pixels += counts
        present_in += (counts > 0) * float(counts.sum())
    seen = present_in > 0
    if not seen.any():
        return [1.0] * num_classes
    freq = np.where(seen, pixels / np.maximum(present_in, 1.0), np.nan)
    median = float(np.nanmedian(freq))
    weights = np.where(seen, median / np.where(seen, freq, 1.0), 1.0)
    return [round(float(w), 5) for w in weights]
