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
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.core.atomic import write_json  # noqa: E402
from edgeunet.stream.stream import Stream, StreamOptions  # noqa: E402
from edgeunet.stream.web import WebOptions  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "vtest.avi"


def machine() -> Dict[str, str]:
    """CPU model and ISA flags from lscpu: a latency figure means nothing without them."""
    info = {"host": platform.node(), "cpu": platform.processor(), "isa": ""}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return info
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            info["cpu"] = value.strip()
        elif key.strip() == "Flags":
            flags = value.split()
            info["isa"] = " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if f in flags)
        elif key.strip() == "CPU(s)":
            info["cpus"] = value.strip()
    return info


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--video", default=str(DEFAULT_VIDEO))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--configs", default="2:0,1:0,2:5,1:5,auto:auto",
                        help="threads:nice[:pin] (pin 1/0); auto or a missing pin: Stream's default")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    rows: List[Dict[str, Any]] = []
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    for pair in args.configs.split(","):
        parts = [None if x == "auto" else int(x) for x in pair.split(":")] + [None]
        threads, nice, pin = parts[0], parts[1], None if parts[2] is None else bool(parts[2])
        row = run(args.model, args.video, args.frames, threads, nice, pin)
        c = row["capture_to_display"]
        print(f"threads {threads} nice {nice} pin {pin}: c2d p50 {c['p50']:.1f} p95 {c['p95']:.1f} p99 {c['p99']:.1f} ms "
              f"p99/p50 {c['p99_over_p50']:.2f}  drops {row['dropped']}/{row['captured']}  infer p50 {row['inference']['p50']:.1f} "
              f"p99 {row['inference']['p99']:.1f}  flicker {row['flicker'].get('mean', 0):.2f} %", flush=True)
        rows.append(row)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    result = {"machine": machine(), "model": args.model, "video": args.video, "frames": args.frames,
              "load_avg_before": load_before, "load_avg_after": load_after, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": rows}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"stream_realtime_{platform.node()}{('_' + args.tag) if args.tag else ''}.json"
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
