"""Near-duplicate images across training and validation: the leak a random split of video frames makes.

A 16x16 grey thumbnail per image, brightness and contrast removed (zero mean, unit length), compared by
correlation; pairs at or above NEAR_DUPLICATE are near-twins. Why this and not a model: it needs no torch (it runs
in `data check` and at train start), the decode of each image is the whole cost, and the threshold was measured:

- CamVid (3 sequences, 367 frames): frames of *different* sequences correlate at most 0.911 (street layouts
  alike); frames 1 s apart in one sequence reach 0.99. A seeded random 80/20 split: 20 of 73 validation frames
  have a training frame >= 0.95 (91 pairs); at 0.90 it would be 49 of 73, but cross-sequence pairs start there.
- ISBI 2012 (30 slices of one volume, 50 nm apart): most similar pair 0.80, so no warning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from edgeunet.core.images import read_image
from edgeunet.data.dataset import find_samples
from edgeunet.data.splits import find_groups, group_summary, has_sequences, make_split

THUMB_SIDE = 16
NEAR_DUPLICATE = 0.95
EXAMPLES = 3
_BLOCK = 512  # validation rows compared at once: memory stays at 512 x N floats for any data set size


def thumbnail(path: Path) -> np.ndarray:
    """The normalised 256-value fingerprint of one image file."""
    # A reduced decode is 4x faster for JPEG (DCT scaling) and the same for PNG; the thumbnail is 16x16 anyway.
    image = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)
    if image is None:  # 16-bit TIFF and the like, or an unreadable file: the project's reader says which
        image = read_image(path)
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    small = cv2.resize(image, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small -= small.mean()
    return small / max(float(np.linalg.norm(small)), 1e-6)


def thumbnails(paths: Sequence[Path]) -> np.ndarray:
    """(N, 256) float32 fingerprints."""
    if not paths:
        return np.zeros((0, THUMB_SIDE * THUMB_SIDE), np.float32)
    return np.stack([thumbnail(Path(p)) for p in paths])


@dataclass
class LeakReport:
    """How many validation images have a near-twin in training, and a few pairs to look at."""

    train_images: int
    val_images: int
    val_with_twin: int = 0
    pairs: int = 0
    examples: List[Tuple[str, str, float]] = field(default_factory=list)  # (validation file, training file, similarity)
    seconds: float = 0.0

    def line(self) -> str:
        """One line: the count and up to EXAMPLES pairs, or that none was found."""
        if not self.pairs:
            return (f"no near-duplicates across training ({self.train_images}) and validation ({self.val_images}) "
                    f"images (checked in {self.seconds:.1f} s)")
        shown = "; ".join(f"{v} ~ {t} ({s:.2f})" for v, t, s in self.examples)
        return (f"warning: {self.val_with_twin} of {self.val_images} validation images have a near-duplicate in training "
                f"({self.pairs} pairs, similarity >= {NEAR_DUPLICATE}), so validation scores flatter the model; e.g. {shown}. "
                "Split by sequence (--split-by sequence, --group-regex) or give --val-data from other scenes")


def near_duplicates(train: Sequence[Path], val: Sequence[Path], threshold: float = NEAR_DUPLICATE) -> LeakReport:
    """Compare every validation image with every training image (thumbnails, blockwise)."""
    began = time.perf_counter()
    report = LeakReport(len(train), len(val))
    train_t, val_t = thumbnails(train), thumbnails(val)
    found: List[Tuple[float, int, int]] = []
    for start in range(0, len(val), _BLOCK):
        sims = val_t[start : start + _BLOCK] @ train_t.T if len(train) else np.zeros((0, 0), np.float32)
        hits = sims >= threshold
        report.pairs += int(hits.sum())
        report.val_with_twin += int(hits.any(axis=1).sum())
        for row in np.flatnonzero(hits.any(axis=1)):
            col = int(np.argmax(sims[row]))
            found.append((float(sims[row, col]), start + int(row), col))
    found.sort(reverse=True)
    report.examples = [(Path(val[v]).name, Path(train[t]).name, s) for s, v, t in found[:EXAMPLES]]
    report.seconds = time.perf_counter() - began
    return report


def split_check_lines(
    root: Path, val_data: Optional[Path] = None, val_ratio: float = 0.2, seed: int = 0, split_by: str = "auto",
    group_regex: Optional[str] = None,
) -> List[str]:
    """What `data check` says about validation: the sequences found, the split train would make, and its leak.

    When that split is by sequence, the leak a random split would have had is measured too, so its size is stated.
    """
    samples = find_samples(root, require_masks=False)
    groups = find_groups(samples, group_regex)
    lines = []
    if has_sequences(groups):
        lines.append(f"frame sequences: {len(groups)} ({group_summary({k: len(v) for k, v in groups.items()})})")
    else:
        lines.append("frame sequences: none found in the file names")
    if val_data is not None:
        val = find_samples(val_data, require_masks=False)
        lines.append(f"validation: --val-data {val_data} ({len(val)} images)")
        return lines + [near_duplicates([s.image for s in samples], [s.image for s in val]).line()]
    split = make_split(samples, val_ratio, seed, split_by, group_regex)
    lines += [split.describe(), near_duplicates([s.image for s in split.train], [s.image for s in split.val]).line()]
    if split.mode == "sequence":
        other = make_split(samples, val_ratio, seed, "random")
        leak = near_duplicates([s.image for s in other.train], [s.image for s in other.val])
        lines.append(f"a random split instead (--val-ratio {val_ratio}, seed {seed}): "
                     f"{leak.val_with_twin} of {leak.val_images} validation images would have a near-duplicate in training "
                     f"({leak.pairs} pairs)")
    return lines
