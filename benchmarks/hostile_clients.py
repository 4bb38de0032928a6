"""Hostile clients against `edgeunet stream -o web:// -o mjpeg://` on LOOPBACK ONLY: does the device keep working?

One real `edgeunet stream` process (paced file, both servers, a token from EDGEUNET_TOKEN) is measured
without clients, then while this script holds `--clients` hostile connections (spread over both
servers and over 127.0.0.2-127.0.0.51 as source addresses, so the per-address cap is exercised too):
  slowloris  headers sent one byte a second, never finished
  idle       connected, nothing sent
  noauth     a full GET of /stream.mjpg or /events without the token, then silence
  garbage    a malformed request line carrying a fake ?token= (must not reach the log)
  stalled    an authorised /stream.mjpg or /events subscriber that never reads (tiny receive buffer): forgotten
             tabs, 2 x --max-clients per server; /events reconnects every 3 s like an EventSource, the video
             (an <img>) does not reconnect once cut off
Every other hostile client reconnects at most once a second when the server lets it go. Meanwhile an
authorised viewer connects every 2 s to each server and times its first complete JPEG frame (retrying
after a 503, as a page would). A token holder who floods the video on purpose can always take its
--max-clients slots: the token is the boundary, so this benchmark's flood comes from clients without it.
One authorised user watches each server for the whole run, so the baseline pays for JPEG encoding too.
Figures: pipeline FPS (attack / baseline), the viewer's worst time to a frame, server RSS, threads
and open files, stderr lines, and how long until every slot is free after the clients stop.

Bounded: at most 2,000 clients, 120 s of attack, connections to 127.0.0.1 only (asserted).

    .venv/bin/python benchmarks/hostile_clients.py MODEL.onnx VIDEO [--clients 1000] [--seconds 30] [--fps 20]

Results: benchmarks/results/hostile_clients_<host>.json (the .md note is written by hand from it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Tuple

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.core.atomic import write_json  # noqa: E402
from edgeunet.core.cpu import cpu_line  # noqa: E402

TARGET = "127.0.0.1"  # never anything else
SOURCES = [f"127.0.0.{i}" for i in range(2, 52)]
TOKEN = "hostile-bench-token-0123456789"
KINDS = ("slowloris", "idle", "noauth", "garbage")
STALLED_PER_PORT = 8
RETRIES: Dict[int, int] = {}  # an authorised viewer's 503s (all slots held) per port
PHASES: List[Dict[str, Any]] = []  # per viewer attempt: seconds to connect and to the status line
MAX_CLIENTS, MAX_SECONDS = 2000, 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((TARGET, 0))
        return int(s.getsockname()[1])


def _stats(port: int) -> Dict[str, Any]:
    url = f"http://{TARGET}:{port}/stats.json"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"}), timeout=5) as r:
        return dict(json.loads(r.read()))


async def _connect(port: int, source: str, rcvbuf: int = 0) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert source.startswith("127.") and TARGET == "127.0.0.1"
    sock = socket.socket()
    sock.setblocking(False)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    await asyncio.get_running_loop().sock_connect(sock, (TARGET, port))
    return await asyncio.open_connection(sock=sock)


async def _hostile(kind: str, port: int, source: str, until: float, counts: Dict[str, int], path: str) -> None:
    """One hostile client: connect, misbehave until the server lets go, wait a second, again."""
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            reader, writer = await _connect(port, source, 2048 if kind == "stalled" else 0)
            counts["connects"] += 1
            if kind == "slowloris":
                writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while time.monotonic() < until and not reader.at_eof():
                    writer.write(b"X")
                    await writer.drain()
                    await asyncio.sleep(1.0)
            elif kind == "garbage":
                writer.write(b"G\x00T /?token=LEAKED-IF-LOGGED HTTP/1.1\r\n\r\n")
            elif kind in ("noauth", "stalled"):
                query = f"?token={TOKEN}" if kind == "stalled" else ""
                writer.write(f"GET {path}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            if kind != "slowloris":
                await writer.drain()
                if kind != "stalled":
                    await asyncio.wait_for(reader.read(65536), max(0.0, until - time.monotonic()))
                while time.monotonic() < until and kind == "stalled" and not writer.is_closing():
                    await asyncio.sleep(1.0)  # never read
                    if reader.at_eof() or writer.transport.is_closing():
                        break
            writer.close()
            if kind == "stalled" and path != "/events":
                return  # an <img> that lost its stream stays broken
        except (OSError, asyncio.TimeoutError):
            counts["errors"] += 1
        await asyncio.sleep(max(0.0, (3.0 if kind == "stalled" else 1.0) - (time.monotonic() - started)))


async def _first_frame(port: int) -> float:
    """Seconds from connect to one complete JPEG for an authorised viewer (inf when none came in 10 s)."""
    start = time.perf_counter()
    while time.perf_counter() - start < 10:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(TARGET, port), 10)
            connected = time.perf_counter() - start
            writer.write(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
            status = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
            PHASES.append({"port": port, "connected_s": round(connected, 3), "status_s": round(time.perf_counter() - start, 3)})
            if b" 503 " in status:
                writer.close()
                RETRIES[port] = RETRIES.get(port, 0) + 1
                await asyncio.sleep(0.2)
                continue
            await asyncio.wait_for(reader.readuntil(b"Content-Type: image/jpeg\r\nContent-Length: "), 10)
            size = int((await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).strip())
            await asyncio.wait_for(reader.readexactly(size), 10)
            writer.close()
            return time.perf_counter() - start
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            print(f"authorised viewer on port {port}: {exc!r}", file=sys.stderr)
            return float("inf")
    return float("inf")


async def _attack(ports: List[int], clients: int, seconds: float, proc: psutil.Process) -> Dict[str, Any]:
    until = time.monotonic() + seconds
    counts = {"connects": 0, "errors": 0}
    plan = [("stalled", ports[i % 2]) for i in range(2 * STALLED_PER_PORT)]
    plan += [(KINDS[i % len(KINDS)], ports[i % 2]) for i in range(clients - len(plan))]
    paths = ("/stream.mjpg", "/stream.mjpg", "/events", "/events")  # i % 4: both ports get both paths
    tasks = [asyncio.create_task(_hostile(kind, port, SOURCES[i % len(SOURCES)], until, counts, paths[i % 4]))
             for i, (kind, port) in enumerate(plan)]
    samples: List[Dict[str, float]] = []
    while time.monotonic() < until:
        await asyncio.sleep(2.0)
        samples.append({"rss_mib": proc.memory_info().rss / 2**20, "threads": proc.num_threads(), "fds": proc.num_fds()})
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"counts": counts, "samples": samples}


def _watch(port: int) -> None:
    """A user watching the video for the whole run (so JPEG encoding runs in the baseline too), until stdin closes."""
    sock = socket.create_connection((TARGET, port), timeout=5)
    sock.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    sock.settimeout(0.5)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.is_set():
        try:
            if not sock.recv(1 << 16):
                break
        except socket.timeout:
            continue
    sock.close()


def _viewer(ports: List[int], seconds: float) -> None:
    """The authorised viewer, in a process of its own at normal priority (a laptop's browser, not the attacker's loop)."""
    sys.stdin.readline()  # the attack has started
    until = time.monotonic() + seconds
    frames: List[float] = []
    while time.monotonic() < until - 1.0:
        time.sleep(2.0)
        for port in ports:
            frames.append(asyncio.run(_first_frame(port)))
    print(json.dumps({"first_frame_s": frames, "retries": RETRIES, "phases": PHASES}), flush=True)


CPU: List[float] = []  # the stream process's CPU seconds per wall second, one per _fps window


def _fps(port: int, seconds: float, pid: int = 0) -> float:
    proc = psutil.Process(pid) if pid else None
    c0 = sum(proc.cpu_times()[:2]) if proc else 0.0
    a, t0 = _stats(port)["frames"], time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    if proc is not None:
        CPU.append(round((sum(proc.cpu_times()[:2]) - c0) / wall, 3))
    return (_stats(port)["frames"] - a) / wall


def _drain_time(ports: List[int], timeout: float) -> float:
    """Seconds until each server holds only the asking connection and the watcher's, one viewer (the watcher), no subscriber."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        stats = [_stats(p) for p in ports]
        if all(s["connections"]["connections"] <= 2 and s["viewers"] <= 1 and s["events_subscribers"] == 0 for s in stats):
            return time.perf_counter() - start
        time.sleep(0.1)
    return float("inf")


def _start(args: argparse.Namespace, ports: List[int], stderr_path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgeunet", "stream", str(args.model), str(args.video), "--realtime", "--loop",
           "--fps", str(args.fps), "-o", f"web://{TARGET}:{ports[0]}", "-o", f"mjpeg://{TARGET}:{ports[1]}"]
    env = {**os.environ, "EDGEUNET_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(stderr_path.with_suffix(".stdout"), "w"), stderr=open(stderr_path, "w"))
    end = time.time() + 60
    while time.time() < end:
        try:
            if _stats(ports[0]).get("frames", 0) > 20 and _stats(ports[1]).get("frames", 0) > 20:
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the stream never came up: {stderr_path.read_text()[-2000:]}")


def run(args: argparse.Namespace) -> Dict[str, Any]:
    clients, seconds = min(args.clients, MAX_CLIENTS), min(args.seconds, MAX_SECONDS)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, clients + 512)), hard))
    ports = [_free_port(), _free_port()]
    stderr_path = Path(tempfile.mkdtemp(prefix="hostile-")) / "stream.stderr"
    load_before = os.getloadavg()
    stream = _start(args, ports, stderr_path)
    watchers = [subprocess.Popen([sys.executable, __file__, "--watch", str(p), "x", "x"], stdin=subprocess.PIPE) for p in ports]
    time.sleep(1.0)
    viewer = subprocess.Popen([sys.executable, __file__, "--viewer", f"{ports[0]},{ports[1]}", "--seconds", str(seconds), "x", "x"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    os.nice(10)  # the attacker shares this machine's cores: it must not take them from the pipeline it measures
    proc = psutil.Process(stream.pid)
    base = {"fps": _fps(ports[0], args.baseline, stream.pid), "rss_mib": proc.memory_info().rss / 2**20, "threads": proc.num_threads(),
            "fds": proc.num_fds()}
    base_frame = [asyncio.run(_first_frame(p)) for p in ports]
    fps_during: List[float] = []

    async def attack_and_measure() -> Dict[str, Any]:
        attack = asyncio.create_task(_attack(ports, clients, seconds, proc))
        assert viewer.stdin is not None
        viewer.stdin.write("go\n")
        viewer.stdin.flush()
        await asyncio.sleep(min(5.0, seconds / 3))
        fps_during.append(await asyncio.to_thread(_fps, ports[0], max(1.0, seconds - min(5.0, seconds / 3) - 2), stream.pid))
        return await attack

    mine = psutil.Process()
    c0, t0 = sum(mine.cpu_times()[:2]), time.perf_counter()
    attack = asyncio.run(attack_and_measure())
    attacker_cpu = (sum(mine.cpu_times()[:2]) - c0) / (time.perf_counter() - t0)
    seen = json.loads(viewer.communicate(timeout=60)[0].strip().splitlines()[-1])
    drain = _drain_time(ports, args.drain_timeout)
    base["fps_after"] = _fps(ports[0], args.baseline, stream.pid)  # the machine's load drifts: the baseline is before and after
    base["fps_before"] = base.pop("fps")
    base["fps"] = (base["fps_before"] + base["fps_after"]) / 2
    guard = [_stats(p)["connections"] for p in ports]
    for watcher in watchers:
        watcher.communicate(timeout=30)  # closes its stdin: the watcher stops
    stream.send_signal(signal.SIGTERM)
    code = stream.wait(60)
    stderr = stderr_path.read_text(errors="replace")
    stdout = stderr_path.with_suffix(".stdout").read_text(errors="replace")
    samples = attack["samples"]
    return {
        "machine": {"host": platform.node(), "cpu": cpu_line(), "cores": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "setup": {"clients": clients, "kinds": KINDS + ("stalled",), "stalled_per_port": STALLED_PER_PORT,
                  "seconds": seconds, "fps_paced": args.fps, "source_addresses": len(SOURCES)},
        "baseline": {**base, "first_frame_s": base_frame},
        "attack": {"fps": fps_during[0], "fps_ratio": fps_during[0] / base["fps"], "first_frame_s_max": max(seen["first_frame_s"]),
                   "first_frame_s": seen["first_frame_s"], "rss_mib_max": max(s["rss_mib"] for s in samples),
                   "threads_max": max(s["threads"] for s in samples), "fds_max": max(s["fds"] for s in samples),
                   "stream_cpu_per_s": {"before": CPU[0], "attack": CPU[1], "after": CPU[2]} if len(CPU) == 3 else CPU,
                   "attacker_cpu_per_s": round(attacker_cpu, 3), "viewer_503_retries": seen["retries"], "viewer_phases": seen["phases"],
                   "client_connects": attack["counts"]["connects"], "client_errors": attack["counts"]["errors"], "guard": guard},
        "after": {"drain_s": drain, "exit_code": code, "stderr_lines": len(stderr.splitlines()),
                  "stdout_lines": len(stdout.splitlines()), "server_log_lines": [x for x in stdout.splitlines() if x.startswith("web:")],
                  "output_leaks_token": any(t in stderr + stdout for t in (TOKEN, "LEAKED-IF-LOGGED")),
                  "stderr_tail": stderr.splitlines()[-8:]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("video", type=Path)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument("--baseline", type=float, default=8.0, help="seconds of FPS measurement without clients")
    parser.add_argument("--drain-timeout", type=float, default=15.0)
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--viewer", default=None, help=argparse.SUPPRESS)  # internal: the viewer process
    parser.add_argument("--watch", default=None, help=argparse.SUPPRESS)  # internal: a user watching throughout
    args = parser.parse_args()
    if args.watch:
        _watch(int(args.watch))
        return
    if args.viewer:
        _viewer([int(p) for p in args.viewer.split(",")], args.seconds)
        return
    result = run(args)
    out = args.out_dir / f"hostile_clients_{platform.node() or 'host'}.json"
    write_json(out, result)
    a = result["attack"]
    print(f"fps {result['baseline']['fps']:.1f} -> {a['fps']:.1f} ({a['fps_ratio']:.0%}); viewer first frame max "
          f"{a['first_frame_s_max']:.2f} s; RSS max {a['rss_mib_max']:.0f} MiB; threads max {a['threads_max']}; "
          f"fds max {a['fds_max']}; stderr {result['after']['stderr_lines']} lines; drained in {result['after']['drain_s']:.2f} s; "
          f"wrote {out}")


if __name__ == "__main__":
    main()
