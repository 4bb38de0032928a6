"""Is the live pipeline as fast as the model? One run over a video with overlay and a file sink.

Prints, for the same backend object (same backend, precision, threads):
  * model-only FPS: Backend.run on a preprocessed frame of the video (edgeunet.bench.timing.time_backend:
    warm-up, then timed runs), measured before and after the pipeline run and averaged, so a
    machine whose load drifts is not credited to either side;
  * end-to-end FPS: frames processed by `edgeunet stream`'s pipeline over the whole video
    (decode, preprocess, inference, postprocess, overlay, HUD, video encode) divided by its wall time;
  * ratio = end-to-end FPS / model-only FPS (goal >= 0.95) and end-to-end latency p99 / p50 (goal <= 1.3).

    .venv/bin/python benchmarks/stream_pipeline.py MODEL.onnx [--video ../shared/data/video/vtest.avi] [--threads N]

Results: benchmarks/results/stream_pipeline_<host>.json and .md (see --out-dir).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.bench.timing import time_backend  # noqa: E402
from edgeunet.core.processing import preprocess  # noqa: E402
from edgeunet.runtime.base import BackendOptions, load_backend  # noqa: E402
from edgeunet.stream.stats import summarize  # noqa: E402
from edgeunet.stream.stream import Stream, StreamOptions  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "vtest.avi"


def model_only(backend: Any, video: Path, warmup: int, iterations: int) -> Dict[str, float]:
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"{video}: cannot read a frame")
    lat = time_backend(backend.run, preprocess(frame, backend.spec), warmup, iterations, None)
    stats = summarize(lat)
    stats["fps"] = 1000.0 / stats["mean"]
    return stats


def run(args: argparse.Namespace) -> Dict[str, Any]:
    options = BackendOptions(device=args.device, threads=args.threads, spinning=args.spinning)
    with load_backend(args.model, args.backend, **options.kwargs()) as backend:
        before = model_only(backend, args.video, args.warmup, args.iterations)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.mp4"
            with Stream(backend, str(args.video), [str(out)], StreamOptions(overlay=args.overlay, hud=True, max_frames=args.frames)) as stream:
                report = stream.run()
            written = _count_frames(out)
        after = model_only(backend, args.video, args.warmup, args.iterations)
    model_fps = (before["fps"] + after["fps"]) / 2.0
    e2e = report["stages"]["end_to_end"]
    return {
        "schema": "edgeunet-stream-bench/1", "machine": {"host": platform.node(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "model": str(args.model), "video": str(args.video), "backend": report["backend"], "precision": report["precision"],
        "device": report["device"], "threads": args.threads, "spinning": args.spinning, "overlay": args.overlay, "sink": "out.mp4 (mp4v)",
        "model_only_before": before, "model_only_after": after, "model_fps": model_fps,
        "e2e_fps": report["fps"], "frames": report["frames"], "frames_written": written,
        "ratio_e2e_over_model": report["fps"] / model_fps, "latency_p99_over_p50": e2e["p99"] / e2e["p50"],
        "stages": report["stages"], "queues": report["queues"],
    }


def _count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def markdown(r: Dict[str, Any]) -> str:
    lines: List[str] = [
        f"# stream pipeline vs model-only — {r['machine']['host']}", "",
        f"{r['machine']['platform']}, {r['machine']['cpus']} CPU(s). Model {Path(r['model']).name}, {r['backend']} {r['precision']} on "
        f"{r['device']}, threads {r['threads'] or 'default'}, ORT spin-wait {'on' if r['spinning'] else 'off'}; "
        f"video {Path(r['video']).name}, overlay {r['overlay']} + HUD, sink {r['sink']}.", "",
        "| measure | value | goal |", "|---|---|---|",
        f"| model-only FPS (mean of before/after) | {r['model_fps']:.2f} | |",
        f"| end-to-end FPS | {r['e2e_fps']:.2f} | |",
        f"| end-to-end / model-only | {r['ratio_e2e_over_model']:.3f} | >= 0.95 |",
        f"| end-to-end latency p99 / p50 | {r['latency_p99_over_p50']:.3f} | <= 1.3 |",
        f"| frames processed / read back from the file | {r['frames']} / {r['frames_written']} | |", "",
        "| stage | mean | p50 | p95 | p99 | max (ms) |", "|---|---|---|---|---|---|",
    ]
    for name, s in r["stages"].items():
        lines.append(f"| {name} | {s['mean']:.2f} | {s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f} | {s['max']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--spinning", action="store_true", help="Let ONNX Runtime threads spin-wait (edgeunet stream turns it off).")
    parser.add_argument("--overlay", default="alpha")
    parser.add_argument("--frames", type=int, default=None, help="Stop after N frames (default: the whole video).")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--tag", default="", help="Suffix for the result file names.")
    args = parser.parse_args()
    r = run(args)
    print(markdown(r))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"stream_pipeline_{platform.node()}{('_' + args.tag) if args.tag else ''}"
    (args.out_dir / f"{stem}.json").write_text(json.dumps(r, indent=2) + "\n")
    (args.out_dir / f"{stem}.md").write_text(markdown(r))
    print(f"wrote {args.out_dir / stem}.json and .md")


if __name__ == "__main__":
    main()
