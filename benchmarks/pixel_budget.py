"""The CPU work around the model per camera frame: preprocess + postprocess + overlay, one thread, by class count.

Logits are synthesized from real CamVid label masks (one-hot at the model grid 176x240, Gaussian-smoothed,
scaled, a little noise), so boundaries have a street scene's geometry; 2 classes = road vs the rest as one
binary logit (what a 2-class model outputs), 11 classes = the CamVid classes. Frames are vtest.avi upscaled
to the resolution. Times are thread CPU ms (time.thread_time), so waiting on a busy machine is not counted.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/pixel_budget.py [--resolution 1080p,4k] [--frames 40] [--paths fast,logits]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from hostinfo import load_average, machine  # noqa: E402
from stream_pipeline import DEFAULT_VIDEO, RESOLUTIONS, read_frames, upscaled  # noqa: E402

from edgeunet.core.overlay import colour_lut, overlay  # noqa: E402
from edgeunet.core.processing import postprocess, preprocess  # noqa: E402
from edgeunet.core.spec import ModelSpec  # noqa: E402
from edgeunet.stream.stats import summarize  # noqa: E402

CAMVID = REPO.parent / "shared" / "data" / "camvid-train" / "masks"
GRID = (176, 240)
ROAD = 3


def synth_logits(mask_path: Path, classes: int, seed: int) -> np.ndarray:
    labels = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    labels = cv2.resize(labels, (GRID[1], GRID[0]), interpolation=cv2.INTER_NEAREST)
    rng = np.random.default_rng(seed)
    if classes == 2:
        plane = cv2.GaussianBlur((labels == ROAD).astype(np.float32), (0, 0), 1.0)
        return ((plane - 0.5) * 8 + rng.normal(0, 0.3, plane.shape).astype(np.float32))[None, None]
    labels = np.where(labels >= classes, 0, labels)  # void -> class 0
    onehot = (np.arange(classes)[:, None, None] == labels[None]).astype(np.float32)
    smooth = np.stack([cv2.GaussianBlur(p, (0, 0), 1.0) for p in onehot]) * 8
    return (smooth + rng.normal(0, 0.3, smooth.shape).astype(np.float32))[None]


def measure(frames: List[np.ndarray], logits: List[np.ndarray], classes: int, upsample: str) -> Dict[str, Any]:
    spec = ModelSpec(in_channels=3, num_classes=classes, channel_order="rgb", input_size=list(GRID), mean=[0.5] * 3, std=[0.25] * 3)
    lut = colour_lut(spec.colors)
    times: Dict[str, List[float]] = {"preprocess": [], "postprocess": [], "overlay": [], "total": []}
    for rep in range(2):  # first pass: warm-up (OpenCV tables, index caches)
        for frame, out in zip(frames, logits):
            t0 = time.thread_time()
            preprocess(frame, spec)
            t1 = time.thread_time()
            mask = postprocess(out, spec, frame.shape[:2], upsample)
            t2 = time.thread_time()
            overlay(frame, mask, lut)
            t3 = time.thread_time()
            if rep:
                for name, ms in (("preprocess", t1 - t0), ("postprocess", t2 - t1), ("overlay", t3 - t2), ("total", t3 - t0)):
                    times[name].append(ms * 1000.0)
    return {name: summarize(v) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", default="1080p,4k")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--paths", default="fast")
    parser.add_argument("--classes", default="2,11")
    parser.add_argument("--out", type=Path, default=None, help="Also write the rows as JSON here.")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one thread, as the budget says
    masks = sorted(CAMVID.glob("*.png"))[:: max(1, len(list(CAMVID.glob("*.png"))) // args.frames)][: args.frames]
    result: Dict[str, Any] = {"machine": machine(), "load_avg_before": load_average(), "rows": []}
    for resolution in args.resolution.split(","):
        frames = read_frames(upscaled(DEFAULT_VIDEO, RESOLUTIONS[resolution], 200, Path("/tmp/edgeunet-bench-video")), len(masks))
        for classes in (int(c) for c in args.classes.split(",")):
            logits = [synth_logits(m, classes, i) for i, m in enumerate(masks)]
            for upsample in args.paths.split(","):
                stats = measure(frames, logits, classes, upsample)
                row = {"resolution": resolution, "classes": classes, "upsample": upsample, "load_avg": load_average(),
                       **{k: round(v["p50"], 3) for k, v in stats.items()}, "total_p95": round(stats["total"]["p95"], 3)}
                result["rows"].append(row)
                print(json.dumps(row), flush=True)
    result["load_avg_after"] = load_average()
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
