"""What the training images look like, in a few numbers: per-channel intensity histogram, mean/std, image sizes.

Why: INT8 calibration ranges are only as good as the calibration images. Training stores these statistics in the
checkpoint (and export copies them into the ONNX metadata, `edgeunet.data_stats`), so `edgeunet calibrate` can tell,
before minutes of calibration, that the images it was given are noise, another domain or in the wrong channel order.
Statistics are computed on the pixels as the model sees them (`to_model_channels`: gray, or RGB), before
resizing and normalisation, so they do not depend on the input size. No torch (calibration is on the edge path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from edgeunet.core.images import read_image
from edgeunet.core.processing import to_model_channels
from edgeunet.core.spec import ModelSpec

STATS_FORMAT = 1
BINS = 32  # 8 grey levels a bin: coarse enough to be stable on 16 images, fine enough to tell membranes from streets
MAX_IMAGES = 64  # a seeded subset: a 10 000-image training set must not add minutes to training
MAX_PIXELS = 65_536  # per image, by a regular stride: the histogram of a 4K frame needs no 8 million pixels


def _pixels(image: np.ndarray) -> np.ndarray:
    """(N, C) uint8 samples of an HxW or HxWxC image, strided down to about MAX_PIXELS."""
    pixels = image.reshape(-1, 1) if image.ndim == 2 else image.reshape(-1, image.shape[2])
    step = max(1, pixels.shape[0] // MAX_PIXELS)
    return pixels[::step]


def _edge_strength(image: np.ndarray) -> np.ndarray:
    """Per channel, the mean absolute difference of horizontal neighbours (full resolution: noise lives in it).

    Why: uniform noise and a street scene can share a histogram (both spread over 0-255); their local contrast
    differs five- to tenfold (measured: noise 85, ISBI 18, synthetic cells 14, CamVid 9 grey levels).
    """
    pixels = image.astype(np.int16)
    diff = np.abs(np.diff(pixels, axis=1))
    return diff.reshape(-1, 1 if image.ndim == 2 else image.shape[2]).mean(axis=0)


def compute_data_stats(images: Sequence[Path], spec: ModelSpec, seed: int = 0) -> Dict[str, Any]:
    """Statistics of (a seeded subset of at most MAX_IMAGES of) `images`, in the model's channel layout.

    Returns a JSON-able dict: {format, images, channels, bins, histogram [C][BINS] (fractions), mean [C], std [C]
    (0-255 pixel units), edge [C] (mean |horizontal neighbour difference|: what tells noise from a photo), min_size [H, W], max_size [H, W]}.
    """
    paths = list(images)
    if len(paths) > MAX_IMAGES:
        rng = np.random.default_rng(seed)
        paths = [paths[i] for i in sorted(rng.choice(len(paths), size=MAX_IMAGES, replace=False).tolist())]
    channels = spec.in_channels
    counts = np.zeros((channels, BINS), np.float64)
    total = np.zeros(channels, np.float64)
    total_sq = np.zeros(channels, np.float64)
    n = 0
    sizes: List[List[int]] = []
    edges: List[np.ndarray] = []
    for path in paths:
        image = to_model_channels(read_image(path), spec)
        sizes.append([int(image.shape[0]), int(image.shape[1])])
        edges.append(_edge_strength(image))
        pixels = _pixels(image).astype(np.float64)
        for c in range(channels):
            counts[c] += np.bincount((pixels[:, c] // (256 // BINS)).astype(np.int64), minlength=BINS)[:BINS]
        total += pixels.sum(axis=0)
        total_sq += (pixels**2).sum(axis=0)
        n += pixels.shape[0]
    if n == 0:
        return {}
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    hist = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size_array = np.asarray(sizes)
    return {
        "format": STATS_FORMAT,
        "images": len(paths),
        "channels": channels,
        "bins": BINS,
        "histogram": np.round(hist, 5).tolist(),
        "mean": np.round(mean, 3).tolist(),
        "std": np.round(std, 3).tolist(),
        "edge": np.round(np.mean(edges, axis=0), 3).tolist(),
        "min_size": size_array.min(axis=0).tolist(),
        "max_size": size_array.max(axis=0).tolist(),
    }


def histogram_distance(a: Dict[str, Any], b: Dict[str, Any]) -> float:
    """Total-variation distance (half the L1 difference) of the histograms, averaged over channels: 0 same, 1 disjoint."""
    ha, hb = np.asarray(a["histogram"], np.float64), np.asarray(b["histogram"], np.float64)
    if ha.shape != hb.shape:
        return 1.0
    return float(0.5 * np.abs(ha - hb).sum(axis=1).mean())


# Thresholds of `compare_stats`, from measurements (32-bin histograms, 16 calibration vs 64 training images):
# same domain 0.02-0.07 (ISBI train/test, random CamVid halves, two synthetic sets); another domain or noise
# 0.33-0.70 (CamVid gray vs ISBI 0.70, noise vs synthetic cells 0.68, noise vs CamVid 0.33, one CamVid sequence vs
# the rest 0.37). 0.2 sits between with room on both sides.
HISTOGRAM_DISTANCE_MAX = 0.2
# Edge strength (local contrast) ratio calibration/training: noise is 5-10x a photo; a resampled copy of the same
# data moves it by well under 2x.
EDGE_RATIO_RANGE = (0.5, 2.0)
# Calibration image sides outside [training min / 2, training max * 2]: resizing then changes what a pixel means.
SIZE_FACTOR = 2.0
# A channel swap is only visible when the training images have a colour balance: at least this many grey levels
# summed over channels between the channel means and their average (CamVid: 6).
MIN_COLOUR_BALANCE = 3.0


def _balance(stats: Dict[str, Any]) -> np.ndarray:
    mean = np.asarray(stats["mean"], np.float64)
    return mean - mean.mean()


def compare_stats(train: Dict[str, Any], calib: Dict[str, Any]) -> Dict[str, Any]:
    """How `calib` differs from `train` (both from compute_data_stats): {findings: [short phrases], numbers}.

    An empty findings list means "looks like the training data" as far as these numbers can tell.
    """
    findings: List[str] = []
    distance = histogram_distance(train, calib)
    result: Dict[str, Any] = {"histogram_distance": round(distance, 4)}
    if distance > HISTOGRAM_DISTANCE_MAX:
        findings.append(f"intensity histogram distance {distance:.2f} (> {HISTOGRAM_DISTANCE_MAX:g})")
    if train.get("edge") and calib.get("edge"):
        ratio = float(np.mean(calib["edge"]) / max(float(np.mean(train["edge"])), 1e-6))
        result["edge_ratio"] = round(ratio, 3)
        if not EDGE_RATIO_RANGE[0] <= ratio <= EDGE_RATIO_RANGE[1]:
            findings.append(f"local contrast {ratio:.1f}x the training images' (noise? another domain?)")
    if train.get("channels") == 3 and calib.get("channels") == 3:
        tb, cb = _balance(train), _balance(calib)
        direct, swapped = float(np.abs(cb - tb).sum()), float(np.abs(cb[::-1] - tb).sum())
        result["channel_balance"] = {"training": np.round(tb, 2).tolist(), "calibration": np.round(cb, 2).tolist()}
        if float(np.abs(tb).sum()) >= MIN_COLOUR_BALANCE and swapped < 0.5 * direct:
            findings.append("channel means swapped? (BGR vs RGB)")
    if train.get("min_size") and calib.get("min_size"):
        lo = np.asarray(train["min_size"]) / SIZE_FACTOR
        hi = np.asarray(train["max_size"]) * SIZE_FACTOR
        if (np.asarray(calib["min_size"]) < lo).any() or (np.asarray(calib["max_size"]) > hi).any():
            findings.append(
                f"image sizes {_size(calib)} vs training {_size(train)}"
            )
    result["findings"] = findings
    return result


def _size(stats: Dict[str, Any]) -> str:
    lo, hi = stats["min_size"], stats["max_size"]
    return f"{lo[0]}x{lo[1]}" if lo == hi else f"{lo[0]}x{lo[1]}-{hi[0]}x{hi[1]}"
