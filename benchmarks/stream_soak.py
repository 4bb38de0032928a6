"""Soak: does the live pipeline leak? Loop a video through `edgeunet stream` for minutes and watch the resident set.

RSS (psutil) is sampled every few seconds. The baseline is taken after a warm-up period (allocator
pools, ONNX Runtime arenas and OpenCV buffers reach their working size during the first loop);
growth = (last sample - baseline) / baseline, goal < 5 %. Latency samples are kept by edgeunet.stream.stats
with a fixed cap, so the recorder itself cannot grow without bound.

    .venv/bin/python benchmarks/stream_soak.py MODEL.onnx [--minutes 10] [--output null|mjpeg://...|frames/]

Results: benchmarks/results/stream_soak_<host>.json (see --out-dir).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.core.atomic import write_json  # noqa: E402
from edgeunet.stream.stream import Stream, StreamOptions  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "vtest.avi"


def soak(args: argparse.Namespace) -> Dict[str, Any]:
    proc = psutil.Process(os.getpid())
    samples: List[List[float]] = []
    done = threading.Event()
    extra: Dict[str, Any] = {} if args.threads is None else {"threads": args.threads}
    stream = Stream(args.model, str(args.video), [args.output], StreamOptions(loop=True, overlay=args.overlay, hud=True), **extra)
    began = time.perf_counter()

    def sample() -> None:
        while not done.wait(args.every):
            elapsed = time.perf_counter() - began
            samples.append([round(elapsed, 1), proc.memory_info().rss / 2**20, stream.recorder.frames])
            print(f"{elapsed:7.0f} s  RSS {samples[-1][1]:7.1f} MiB  frames {samples[-1][2]}", flush=True)
            if elapsed >= args.minutes * 60:
                stream.stop("soak finished")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    report = stream.run()
    done.set()
    sampler.join()
    stream.close()
    warm = [s for s in samples if s[0] >= args.warmup]
    if not warm:
        raise SystemExit("the run was shorter than --warmup; nothing to compare")
    baseline, last = warm[0][1], samples[-1][1]
    return {
        "schema": "edgeunet-stream-soak/1", "host": platform.node(), "platform": platform.platform(),
        "model": str(args.model), "video": str(args.video), "output": args.output, "minutes": args.minutes,
        "warmup_s": args.warmup, "rss_baseline_mib": baseline, "rss_last_mib": last, "rss_max_mib": max(s[1] for s in warm),
        "rss_growth_pct": 100.0 * (last - baseline) / baseline, "frames": report["frames"], "fps": report["fps"],
        "loops": report.get("loops", 0), "dropped": report["dropped"], "corrupt": report["corrupt"],
        "end_to_end_ms": report["stages"]["end_to_end"], "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="Seconds before the RSS baseline is taken.")
    parser.add_argument("--every", type=float, default=10.0, help="Seconds between RSS samples.")
    parser.add_argument("--output", default="null")
    parser.add_argument("--overlay", default="alpha")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    r = soak(args)
    print(f"\nRSS {r['rss_baseline_mib']:.1f} MiB after {args.warmup:.0f} s -> {r['rss_last_mib']:.1f} MiB at the end "
          f"({r['rss_growth_pct']:+.2f} %, goal < 5 %); {r['frames']} frames, {r['loops']} loops, {r['fps']:.1f} FPS")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"stream_soak_{platform.node()}.json"
    write_json(path, r)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
