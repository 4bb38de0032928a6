"""`edgeunet stream ... -o rtsp://`: a real RTSP client (OpenCV + FFmpeg) reads the overlay back; the password rule.

Skips where GStreamer's RTSP server, PyGObject or x264enc is missing (`make setup-rtsp` installs them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from tests.conftest import REPO
from tests.integration import test_stream_web as web_tests

_PROBE = """
from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.rtsp import choose_encoder, load_gstreamer
try:
    Gst, _server, _glib = load_gstreamer()
except EdgeUnetError as exc:
    print(exc)
else:
    if choose_encoder(lambda name: Gst.ElementFactory.find(name) is not None) is None:
        print("GStreamer has no H.264 encoder (apt-get install gstreamer1.0-plugins-ugly)")
"""


def _gstreamer_problem() -> str:
    """Probed in a child process: GStreamer loaded into pytest's own process made a later torch.onnx.export abort."""
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, cwd=REPO)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["the GStreamer probe failed"])[-1]
    return proc.stdout.strip()


PROBLEM = _gstreamer_problem()
pytestmark = pytest.mark.skipif(bool(PROBLEM), reason=f"rtsp:// output not available here: {PROBLEM}")


def _read(url: str, frames: int = 5, timeout_s: float = 30.0) -> Tuple[int, Tuple[int, ...]]:
    """Open `url` with OpenCV's FFmpeg backend over TCP; (frames read, shape of the last), (0, ()) when it cannot open."""
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000)])
    got, shape, end = 0, (), time.time() + timeout_s
    try:
        while cap.isOpened() and got < frames and time.time() < end:
            ok, frame = cap.read()
            if not ok:
                break
            got, shape = got + 1, frame.shape
    finally:
        cap.release()
    return got, shape


def test_rtsp_out_reads_back_vtest_at_its_size(tiny_onnx: Path, vtest: Path, tmp_path: Path) -> None:
    """vtest.avi (768x576, 10 FPS) through the model into rtsp://127.0.0.1:PORT/edgeunet: a client gets 768x576 frames."""
    port = web_tests._free_port()
    stats = tmp_path / "s.json"
    cli = web_tests._Cli([tiny_onnx, vtest, "--realtime", "-o", f"rtsp://127.0.0.1:{port}/edgeunet", "--stats", stats])
    try:
        cli.wait_up(port)
        got, shape = _read(f"rtsp://127.0.0.1:{port}/edgeunet", frames=10)
    finally:
        code = cli.stop()
    assert code == 0, cli.stderr
    assert got == 10 and shape == (576, 768, 3), (got, shape, cli.stderr)
    report = json.loads(stats.read_text())
    out = report["outputs"][0]
    assert out["kind"] == "rtsp" and out["where"] == f"rtsp://127.0.0.1:{port}/edgeunet" and out["frames"] > 0
    assert report["telemetry"]["available"] is False  # not a Jetson: the tegrastats reader did nothing
    print(f"rtsp read back: {got} frames of {shape[1]}x{shape[0]}; the stream wrote {out['frames']}")


def test_beyond_loopback_a_password_is_made_and_needed(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    """0.0.0.0 without --token: a token is made and printed once; no credentials -> refused, edgeunet:TOKEN -> frames."""
    port = web_tests._free_port()
    stats = tmp_path / "s.json"
    cli = web_tests._Cli([tiny_onnx, synth_video, "--realtime", "--loop", "-o", f"rtsp://0.0.0.0:{port}/live", "--stats", stats],
                         {"PYTHONUNBUFFERED": "1"})  # the one-time line must arrive while the run goes on
    try:
        cli.wait_up(port)
        time.sleep(0.5)
        lines = []
        end = time.time() + 10
        while not lines and time.time() < end:  # the line is printed before the first frame; read it without stopping the run
            lines = [line for line in _peek(cli) if "needs a password" in line]
            time.sleep(0.2)
        assert len(lines) == 1, lines
        token = lines[0].split("rtsp://edgeunet:")[1].split("@")[0]
        assert len(token) >= 24
        assert _read(f"rtsp://127.0.0.1:{port}/live", frames=1, timeout_s=10)[0] == 0
        assert _read(f"rtsp://edgeunet:wrong-password@127.0.0.1:{port}/live", frames=1, timeout_s=10)[0] == 0
        assert _read(f"rtsp://edgeunet:{token}@127.0.0.1:{port}/live", frames=3)[0] == 3
    finally:
        code = cli.stop()
    assert code == 0, cli.stderr
    assert (cli.stdout + "".join(cli.seen)).count(token) == 1 and token not in cli.stderr and token not in stats.read_text()
    assert json.loads(stats.read_text())["outputs"][0]["where"] == f"rtsp://edgeunet:***@THIS-MACHINE:{port}/live"


def test_with_token_no_credentials_in_stats_or_logs(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    port = web_tests._free_port()
    token = "rtsp-test-token-0123456789"
    stats = tmp_path / "s.json"
    cli = web_tests._Cli([tiny_onnx, synth_video, "--realtime", "--loop", "-o", f"rtsp://0.0.0.0:{port}/edgeunet", "--token", token,
                          "--stats", stats])
    try:
        cli.wait_up(port)
        assert _read(f"rtsp://127.0.0.1:{port}/edgeunet", frames=1, timeout_s=10)[0] == 0
        got, shape = _read(f"rtsp://edgeunet:{token}@127.0.0.1:{port}/edgeunet", frames=3)
    finally:
        code = cli.stop()
    assert code == 0, cli.stderr
    assert got == 3 and shape[:2] == cv2.imread(str(_first_frame(synth_video, tmp_path))).shape[:2]
    for text in (cli.stdout, cli.stderr, stats.read_text()):
        assert token not in text
    assert f"rtsp://edgeunet:***@THIS-MACHINE:{port}/edgeunet" in cli.stdout


def _peek(cli: web_tests._Cli) -> list:
    """Lines the running command has printed so far, read from the pipe's descriptor without waiting for the end."""
    import select

    fd = cli.proc.stdout.fileno() if cli.proc.stdout is not None else -1
    chunks = getattr(cli, "seen", [])
    cli.seen = chunks  # type: ignore[attr-defined]
    while fd >= 0 and select.select([fd], [], [], 0)[0]:
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data.decode("utf-8", "replace"))
    return "".join(chunks).splitlines()


def _first_frame(video: Path, tmp_path: Path) -> Path:
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    assert ok
    out = tmp_path / "first.png"
    cv2.imwrite(str(out), np.asarray(frame))
    return out


def test_a_port_in_use_is_one_line() -> None:
    from edgeunet.stream.sinks import make_sink

    first = make_sink("rtsp://127.0.0.1:0/x", 10.0).open()
    try:
        with pytest.raises(EdgeUnetError, match="already in use") as info:
            make_sink(f"rtsp://127.0.0.1:{first.port}/x", 10.0).open()
        assert "\n" not in str(info.value)
    finally:
        first.close()


def test_max_clients_caps_the_sessions() -> None:
    """--max-clients 1: a second viewer is refused while the first one watches (in-process sink, no model needed)."""
    import threading

    from edgeunet.stream.sinks import make_sink
    from edgeunet.stream.web import WebOptions

    sink = make_sink("rtsp://127.0.0.1:0/edgeunet", 10.0, WebOptions(max_clients=1)).open()
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.is_set():
            sink.write(np.full((120, 160, 3), i % 255, np.uint8), i)
            i += 1
            time.sleep(0.1)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    url = f"rtsp://127.0.0.1:{sink.port}/edgeunet"
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    first = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    try:
        assert first.isOpened() and first.read()[0]
        assert _read(url, frames=1, timeout_s=10)[0] == 0
    finally:
        first.release()
        stop.set()
        feeder.join()
        sink.close()
