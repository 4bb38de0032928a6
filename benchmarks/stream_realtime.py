"""What a camera user sees: `edgeunet stream MODEL vtest.avi --realtime` at the file's 10 fps, per configuration.

For each configuration (ONNX Runtime intra-op threads, niceness of the non-inference stages) the
video is paced like a camera, the overlay goes to a web:// sink on loopback (one MJPEG viewer
attached, so JPEG encoding really runs), and the run's capture-to-display p50/p95/p99, p99/p50,
drops and mask flicker are taken from the stats report (edgeunet.stream.stats, the same recorder
`stream --stats` writes). ONNX Runtime's spin-waiting is off in every run (Stream's default).

    .venv/bin/python benchmarks/stream_realtime.py MODEL.onnx [--frames 300] [--configs 2:0,1:0,2:10]

Results: benchmarks/results/stream_realtime_<host>.json (the .md report is written by hand from it).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from hostinfo import load_average, machine  # noqa: E402
from stream_pipeline import RESOLUTIONS, upscaled  # noqa: E402

from edgeunet.core.atomic import write_json  # noqa: E402
from edgeunet.stream.stream import Stream, StreamOptions  # noqa: E402
from edgeunet.stream.web import WebOptions  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "vtest.avi"
CACHE = Path(tempfile.gettempdir()) / "edgeunet-bench-video"


def _watch(port: int, stop: threading.Event) -> None:
    """One MJPEG viewer, so the web sink encodes every frame as it would with a browser open."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stream.mjpg", timeout=5) as response:
            while not stop.is_set() and response.read(65536):
                pass
    except OSError:
        pass


def run(model: str, video: str, frames: int, threads: Optional[int], nice: Optional[int], pin: Optional[bool] = None) -> Dict[str, Any]:
    options = StreamOptions(realtime=True, max_frames=frames, stage_nice=nice, pin_stages=pin)
    stream = Stream(model, video, ["web://127.0.0.1:0"], options,
                    threads=threads, web=WebOptions())
    stop = threading.Event()
    viewer = threading.Thread(target=_watch, args=(stream.sinks[0].port, stop), daemon=True)  # type: ignore[attr-defined]
    viewer.start()
    try:
        report = stream.run()
    finally:
        stop.set()
        stream.close()
    c2d = report["capture_to_display"]
    return {"threads": threads if threads is not None else "auto", "stage_nice": nice if nice is not None else "auto",
            "pin_stages": pin if pin is not None else "auto",
            "frames": report["frames"], "captured": report["captured"],
            "dropped": report["dropped"], "fps": report["fps"], "capture_to_display": c2d,
            "inference": report["stages"]["inference"], "flicker": report["flicker"]}


def parse_config(text: str) -> Tuple[Optional[int], Optional[int], Optional[bool]]:
    """threads:nice[:pin] -> (threads, nice, pin); 'auto' or a missing field: Stream's default."""
    parts: List[Optional[int]] = [None if x == "auto" else int(x) for x in text.split(":")] + [None, None]
    return parts[0], parts[1], None if parts[2] is None else bool(parts[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--video", default=str(DEFAULT_VIDEO))
    parser.add_argument("--resolution", default="576p", help="Comma list: 576p (the file as it is), 720p, 1080p, 4k (upscaled).")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1, help="Runs per configuration and resolution, interleaved; the summary takes medians.")
    parser.add_argument("--configs", default="2:0,1:0,2:5,1:5,auto:auto",
                        help="threads:nice[:pin] (pin 1/0); auto or a missing pin: Stream's default")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    rows: List[Dict[str, Any]] = []
    load_before = load_average()
    for resolution in args.resolution.split(","):
        video = args.video if resolution == "576p" else str(upscaled(Path(args.video), RESOLUTIONS[resolution], min(795, 2 * args.frames), CACHE))
        for attempt in range(args.repeat):
            for text in args.configs.split(","):
                row = {"resolution": resolution, "attempt": attempt, "load_avg": load_average(),
                       **run(args.model, video, args.frames, *parse_config(text))}
                c = row["capture_to_display"]
                print(f"{resolution} #{attempt} {text}: c2d p50 {c['p50']:.1f} p99 {c['p99']:.1f} ms p99/p50 {c['p99_over_p50']:.2f}  "
                      f"drops {row['dropped']}/{row['captured']}  infer p50 {row['inference']['p50']:.1f}  load {row['load_avg'][0]}", flush=True)
                rows.append(row)
    result = {"machine": machine(), "model": args.model, "video": args.video, "frames": args.frames,
              "load_avg_before": load_before, "load_avg_after": load_average(), "created": time.strftime("%Y-%m-%d %H:%M:%S"),
              "runs": rows, "summary": summary(rows)}
    for line in result["summary"]:
        print(line)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"stream_realtime_{platform.node()}{('_' + args.tag) if args.tag else ''}.json"
    write_json(out, result)
    print(f"wrote {out}")


def summary(rows: List[Dict[str, Any]]) -> List[str]:
    """Per resolution and configuration: the median over repeats of c2d p50 and of p99/p50."""
    groups: Dict[Tuple[str, str, str, str], List[Dict[str, Any]]] = {}
    for row in rows:
        key = (row["resolution"], str(row["threads"]), str(row["stage_nice"]), str(row["pin_stages"]))
        groups.setdefault(key, []).append(row["capture_to_display"])
    return [f"{r} threads {t} nice {n} pin {p}: median c2d p50 {statistics.median(c['p50'] for c in cs):.1f} ms, "
            f"median p99/p50 {statistics.median(c['p99_over_p50'] for c in cs):.2f} "
            f"(runs: {', '.join(format(c['p99_over_p50'], '.2f') for c in cs)})" for (r, t, n, p), cs in groups.items()]


if __name__ == "__main__":
    main()
