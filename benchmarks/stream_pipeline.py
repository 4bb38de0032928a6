"""Where the milliseconds go: the stream pipeline vs the model alone, per camera resolution and mask path.

For each model file (any: a logits ONNX, an end-to-end model when one exists, an engine), resolution
(the shared vtest.avi upscaled to 720p / 1080p / 4k, written once to --cache) and path (`fast`: the
default --upsample, `logits`: the reference), and each sink (null, mp4):

  * model-only FPS: Backend.run on one preprocessed frame (warm-up, then timed runs), before and after the
    pipeline run, averaged, so load drift is credited to neither side;
  * end-to-end FPS of `edgeunet stream`'s pipeline (inference on --threads ORT threads; with --pin, on
    every core but the last and every other stage on the last, as `--pin-stages` does) and the ratio;
  * per-stage p50 ms (decode, preprocess, inference, postprocess, overlay, encode) from the run's recorder;
  * "CPU ms per frame outside inference and codecs": preprocess + postprocess + overlay, measured alone on
    one thread over the same frames (time.thread_time, so a busy machine's waiting is not counted).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/stream_pipeline.py MODEL.onnx [MORE.onnx] --resolution 720p,1080p,4k

Results: benchmarks/results/stream_pipeline_<tag>.json and .md, with CPU model, ISA and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, os.environ.get("EDGEUNET_CODE", str(REPO)))  # another checkout's code for a before/after table

from hostinfo import load_average, machine  # noqa: E402

from edgeunet.bench.timing import time_backend  # noqa: E402
from edgeunet.core.overlay import colour_lut, overlay  # noqa: E402
from edgeunet.core.processing import postprocess, preprocess  # noqa: E402
from edgeunet.runtime.base import load_backend  # noqa: E402
from edgeunet.stream.stats import summarize  # noqa: E402
from edgeunet.stream.stream import Stream, StreamOptions  # noqa: E402

try:
    from edgeunet.stream.drawing import graph_draws_overlay
except ImportError:  # an older checkout (EDGEUNET_CODE) draws every overlay on the CPU
    def graph_draws_overlay(spec: Any, mode: str, alpha: float) -> bool:
        return False

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "vtest.avi"
RESOLUTIONS = {"576p": (768, 576), "720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
STAGES = (("decode", "capture"), ("preprocess", "preprocess"), ("inference", "inference"), ("postprocess", "postprocess"),
          ("overlay", "overlay"), ("encode", "sink"))


def upscaled(video: Path, size: Tuple[int, int], frames: int, cache: Path) -> Path:
    """The shared video resized (bilinear) to `size`, `frames` frames, written once as mp4v (MPEG-4 part 2, what `stream` writes; cheap to decode)."""
    out = cache / f"{video.stem}_{size[0]}x{size[1]}_{frames}.mp4"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    tmp = out.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS) or 10.0, size)
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    writer.release()
    cap.release()
    tmp.rename(out)
    return out


def read_frames(video: Path, count: int) -> List[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def pixel_stages(backend: Any, frames: List[np.ndarray], upsample: str, alpha: float = 0.45) -> Dict[str, Dict[str, float]]:
    """preprocess, postprocess and overlay alone on this thread (CPU ms, thread_time), over real model outputs.

    An end-to-end model exported with --overlay at this alpha draws the overlay itself (stream takes its output), so its
    overlay costs the CPU nothing here; inference, timed apart, carries the graph's extra work."""
    spec, lut = backend.spec, colour_lut(backend.spec.colors)
    times: Dict[str, List[float]] = {"preprocess": [], "postprocess": [], "overlay": [], "pixel_total": []}
    outputs = [backend.run(preprocess(f, spec)) for f in frames]
    for rep in range(2):  # the first pass warms caches and OpenCV's per-size tables; the second is timed
        for frame, output in zip(frames, outputs):
            t0 = time.thread_time()
            preprocess(frame, spec)
            t1 = time.thread_time()
            mask = postprocess(output, spec, frame.shape[:2], upsample) if upsample != "default" else postprocess(output, spec, frame.shape[:2])
            t2 = time.thread_time()
            if not graph_draws_overlay(spec, "alpha", alpha):  # else the graph's overlay output is the picture: nothing to draw
                overlay(frame, mask, lut, alpha)
            t3 = time.thread_time()
            if rep:
                for name, ms in (("preprocess", t1 - t0), ("postprocess", t2 - t1), ("overlay", t3 - t2), ("pixel_total", t3 - t0)):
                    times[name].append(ms * 1000.0)
    return {name: summarize(values) for name, values in times.items()}


def model_only(backend: Any, frame: np.ndarray, warmup: int, iterations: int) -> float:
    lat = time_backend(backend.run, preprocess(frame, backend.spec), warmup, iterations, None)
    return 1000.0 / float(np.median(lat))


def pipeline(backend: Any, video: Path, sink: str, upsample: str, args: argparse.Namespace) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        target = "null" if sink == "null" else str(Path(tmp) / "out.mp4")
        extra = {} if upsample == "default" else {"upsample": upsample}
        options = StreamOptions(overlay="alpha", hud=True, max_frames=args.frames, pin_stages=args.pin, **extra)
        stream = Stream(backend, str(video), [target], options)
        try:
            report = stream.run()
        finally:
            stream.close()
    stages = report["stages"]
    return {"e2e_fps": report["fps"], "frames": report["frames"],
            "stages_p50": {label: stages[name]["p50"] for label, name in STAGES if name in stages},
            "end_to_end_p50": stages["end_to_end"]["p50"]}


def measure(model: Path, upsample: str, resolution: str, video: Path, args: argparse.Namespace) -> Dict[str, Any]:
    backend = load_backend(model, args.backend, "auto", spinning=False, **({} if args.threads is None else {"threads": args.threads}))
    try:
        frames = read_frames(video, args.pixel_frames)
        before = model_only(backend, frames[0], args.warmup, args.iterations)
        row: Dict[str, Any] = {"model": str(model), "io": backend.spec.io, "upsample": upsample, "resolution": resolution,
                               "classes": backend.spec.num_classes, "pixel_cpu_ms": pixel_stages(backend, frames, upsample),
                               "runs": {}, "load_avg_before": load_average()}
        for sink in args.sinks:
            row["runs"][sink] = pipeline(backend, video, sink, upsample, args)
        after = model_only(backend, frames[0], args.warmup, args.iterations)
    finally:
        backend.close()
    row["model_fps"] = (before + after) / 2.0
    row["model_fps_before_after"] = [before, after]
    row["load_avg_after"] = load_average()
    for run in row["runs"].values():
        run["ratio"] = run["e2e_fps"] / row["model_fps"]
    return row


def markdown(result: Dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"# stream pipeline vs model-only — {m['cpu']}", "",
             f"{m['cpus']} CPU(s), ISA {m['isa']}; load average {' '.join(result['load_avg_before'])} before, "
             f"{' '.join(result['load_avg_after'])} after. Inference threads {result['threads'] or 'default'}, "
             f"stages pinned off inference's cores: {result['pin']}; video {Path(result['video']).name} upscaled; overlay alpha + HUD.", "",
             "Per-stage p50 ms in the pipeline; pixel CPU = preprocess + postprocess + overlay p50 alone on one thread (thread CPU ms).", "",
             "| model | path | res | sink | decode | pre | infer | post | overlay | encode | model FPS | e2e FPS | ratio | pixel CPU ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        pixel = row["pixel_cpu_ms"]["pixel_total"]["p50"]
        for sink, run in row["runs"].items():
            s = run["stages_p50"]
            cells = " | ".join(f"{s.get(label, float('nan')):.1f}" for label, _ in STAGES)
            lines.append(f"| {Path(row['model']).name} | {row['upsample']} | {row['resolution']} | {sink} | {cells} | "
                         f"{row['model_fps']:.1f} | {run['e2e_fps']:.1f} | {run['ratio']:.2f} | {pixel:.1f} |")
    lines += ["", "Pixel stages alone (thread CPU ms, p50 / p95):", "", "| model | path | res | preprocess | postprocess | overlay | total |",
              "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        p = row["pixel_cpu_ms"]
        cells = " | ".join(f"{p[k]['p50']:.2f} / {p[k]['p95']:.2f}" for k in ("preprocess", "postprocess", "overlay", "pixel_total"))
        lines.append(f"| {Path(row['model']).name} | {row['upsample']} | {row['resolution']} | {cells} |")
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", help="Any model files; a non-logits (uint8 / end-to-end) one runs its own path only.")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--resolution", default="1080p", help=f"Comma list of {', '.join(RESOLUTIONS)}.")
    parser.add_argument("--paths", default="fast,logits", help="fast,logits (this checkout) or default (another checkout's own path).")
    parser.add_argument("--sinks", default="null,mp4")
    parser.add_argument("--frames", type=int, default=200, help="Frames per pipeline run (the video is cut to this length).")
    parser.add_argument("--pixel-frames", type=int, default=60, help="Frames for the pixel-stage timing alone.")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="Inference on its cores, every other stage on the last one (--pin-stages).")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "edgeunet-bench-video")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    args.sinks = [s for s in args.sinks.split(",") if s]
    return args


def main() -> None:
    args = parse_args()
    result: Dict[str, Any] = {"schema": "edgeunet-stream-bench/2", "machine": machine(), "load_avg_before": load_average(),
                              "video": str(args.video), "threads": args.threads, "pin": args.pin, "frames": args.frames, "rows": []}
    for resolution in args.resolution.split(","):
        video = upscaled(args.video, RESOLUTIONS[resolution], args.frames, args.cache)
        for model in args.models:
            paths = args.paths.split(",") if _io_of(model, args) == "float" else ["default"]
            for upsample in paths:
                row = measure(model, upsample, resolution, video, args)
                result["rows"].append(row)
                print(json.dumps({k: row[k] for k in ("model", "upsample", "resolution", "model_fps")}),
                      {s: round(r["e2e_fps"], 2) for s, r in row["runs"].items()},
                      "pixel CPU ms", round(row["pixel_cpu_ms"]["pixel_total"]["p50"], 2), flush=True)
    result["load_avg_after"] = load_average()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"stream_pipeline{('_' + args.tag) if args.tag else ''}"
    (args.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out_dir / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    print(f"wrote {args.out_dir / stem}.json and .md")


def _io_of(model: Path, args: argparse.Namespace) -> Optional[str]:
    backend = load_backend(model, args.backend, "auto")
    try:
        return backend.spec.io
    finally:
        backend.close()


if __name__ == "__main__":
    main()
