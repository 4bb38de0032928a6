"""`edgeunet stream ... -o web://`: the token beyond loopback, no secret anywhere, and a real browser on the live page."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np
import pytest

from edgeunet.stream.mjpeg import MjpegServerSink
from edgeunet.stream.sinks import SinkSpec
from tests.conftest import REPO, run_cli

ROUTES = ["/", "/stream.mjpg", "/snapshot.jpg", "/events", "/stats.json", "/metrics"]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, method: str = "GET") -> Tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as response:
            streaming = response.headers.get("Content-Type", "").startswith(("multipart/", "text/event-stream"))
            return response.status, response.read(4000) if streaming else response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _Cli:
    """`python -m edgeunet stream ...` in the background, its output collected, stopped with SIGTERM."""

    def __init__(self, args: List[str], env: Optional[dict] = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "edgeunet", "stream", *map(str, args)], cwd=REPO, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})
        self.stdout, self.stderr = "", ""

    def wait_up(self, port: int, timeout: float = 60.0) -> None:
        end = time.time() + timeout
        while time.time() < end and self.proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the web view never came up: {self.stdout}{self.stderr}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.stdout, self.stderr = self.proc.communicate(timeout=60)
        return int(self.proc.returncode)


def test_beyond_loopback_every_route_needs_the_token(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    """No --token and (simulated) not loopback: a token is made and printed once; every route is 401 without it."""
    port = _free_port()
    cli = _Cli([tiny_onnx, synth_video, "--realtime", "--loop", "-o", f"web://127.0.0.1:{port}"], {"EDGEUNET_WEB_ASSUME_REMOTE": "1"})
    try:
        cli.wait_up(port)
        base = f"http://127.0.0.1:{port}"
        for path in ROUTES:
            assert _get(base + path)[0] == 401, path
        assert _get(base + "/snapshot", "POST")[0] == 401
    finally:
        code = cli.stop()
    assert code == 0, cli.stderr
    lines = [line for line in cli.stdout.splitlines() if "?token=" in line]
    assert len(lines) == 1, cli.stdout
    token = lines[0].split("?token=")[1].split()[0]
    assert len(token) >= 24 and cli.stdout.count(token) == 1 and token not in cli.stderr


def test_with_the_token_every_route_answers(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    port = _free_port()
    token = "test-token-0123456789"
    cli = _Cli([tiny_onnx, synth_video, "--realtime", "--loop", "-o", f"web://127.0.0.1:{port}", "--token", token,
                "--snapshot-dir", tmp_path / "snaps", "--stats", tmp_path / "s.json"])
    try:
        cli.wait_up(port)
        base = f"http://127.0.0.1:{port}"
        time.sleep(1.5)
        for path in ROUTES:
            assert _get(base + path)[0] == 401, path
            assert _get(f"{base}{path}?token={token}")[0] == 200, path
        status, body = _get(f"{base}/snapshot?token={token}", "POST")
        assert status == 200 and len(json.loads(body)["saved"]) == 3
    finally:
        assert cli.stop() == 0, cli.stderr
    assert len(list((tmp_path / "snaps").iterdir())) == 3
    stats = json.loads((tmp_path / "s.json").read_text())
    assert token not in (tmp_path / "s.json").read_text() and token not in cli.stderr
    assert stats["capture_to_display"]["p99_over_p50"] >= 1.0 and stats["flicker"]["frames_compared"] > 0


@pytest.fixture()
def mjpeg_camera() -> Iterator[int]:
    """An MJPEG camera on loopback (edgeunet's own server), fed with moving frames."""
    sink = MjpegServerSink(SinkSpec("mjpeg", host="127.0.0.1", port=0, text="camera")).open()
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.is_set():
            frame = np.full((96, 128, 3), 40, np.uint8)
            cv2.circle(frame, (i * 3 % 128, 48), 12, (255, 255, 255), -1)
            sink.write(frame, i)
            i += 1
            time.sleep(1 / 30)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield sink.port
    finally:
        stop.set()
        feeder.join()
        sink.close()


@pytest.mark.parametrize(("password", "query", "shown_query"), [("secret", "", ""),
                                                                 ("se@cret", "?cam_session_key=qsecret1&fps=5", "?cam_session_key=***&fps=5")])
def test_a_source_password_never_shows(tiny_onnx: Path, mjpeg_camera: int, tmp_path: Path, password: str, query: str,
                                       shown_query: str) -> None:
    """http://user:secret@... streams (FFmpeg sends the credentials); 'secret' is in no output, stats file or page.

    Also a password with '@' (the last '@' ends the userinfo, as in FFmpeg) and a credential-like query key no list names.
    """
    port = _free_port()
    stats = tmp_path / "s.json"
    cli = _Cli([tiny_onnx, f"http://user:{password}@127.0.0.1:{mjpeg_camera}/stream.mjpg{query}", "-o", f"web://127.0.0.1:{port}",
                "--stats", stats])
    seen = []
    try:
        cli.wait_up(port)
        base = f"http://127.0.0.1:{port}"
        time.sleep(1.5)
        for path in ("/", "/stats.json", "/events", "/metrics"):
            status, body = _get(base + path)
            assert status == 200, path
            seen.append(body.decode("utf-8", "replace"))
    finally:
        code = cli.stop()
    assert code == 0, cli.stderr
    report = json.loads(stats.read_text())
    assert report["source"] == f"http://user:***@127.0.0.1:{mjpeg_camera}/stream.mjpg{shown_query}" and report["frames"] > 0
    assert "user:***@" in "".join(seen)  # the page's numbers name the source, redacted
    for text in (cli.stdout, cli.stderr, stats.read_text(), *seen):
        assert "secret" not in text and "cret@" not in text


def test_an_rtsp_password_never_shows_in_the_error(tiny_onnx: Path, tmp_path: Path) -> None:
    proc = run_cli("stream", tiny_onnx, f"rtsp://user:secret@127.0.0.1:{_free_port()}/x", "-o", "null", "--stats", tmp_path / "s.json",
                   timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "user:***@127.0.0.1" in proc.stderr and "secret" not in proc.stdout + proc.stderr


def test_a_secret_in_a_sink_uri_never_shows_in_its_error(tiny_onnx: Path, synth_video: Path) -> None:
    proc = run_cli("stream", tiny_onnx, synth_video, "-o", f"rtsp://edgeunet:hun@ter2@127.0.0.1:{_free_port()}/x?auth_sig=zz9",
                   "--max-frames", "2", timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1
    assert "hun@ter2" not in proc.stdout + proc.stderr and "ter2" not in proc.stderr and "zz9" not in proc.stdout + proc.stderr


# -- a real browser ---------------------------------------------------------------------------------
def _browser(user_data: Path) -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={user_data}", "--window-size=1100,720"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.mark.slow
def test_a_real_browser_sees_the_live_page(tiny_onnx: Path, vtest: Path, tmp_path: Path) -> None:
    """Headless Chromium opens the page: the picture moves between two screenshots a second apart, the numbers are there."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    pytest.importorskip("selenium", reason="needs selenium (pip install selenium; the dev extra has it)")
    port = _free_port()
    cli = _Cli([tiny_onnx, vtest, "--realtime", "-o", f"web://127.0.0.1:{port}"])
    user_data = Path(tempfile.mkdtemp(prefix="edgeunet-chromium-"))
    driver = None
    try:
        cli.wait_up(port)
        driver = _browser(user_data)
        driver.get(f"http://127.0.0.1:{port}/")  # type: ignore[attr-defined]
        end = time.time() + 30
        while time.time() < end and driver.find_element("id", "fps").text in ("", "-"):  # type: ignore[attr-defined]
            time.sleep(0.2)
        time.sleep(1.0)
        first = driver.get_screenshot_as_png()  # type: ignore[attr-defined]
        time.sleep(1.0)
        second = driver.get_screenshot_as_png()  # type: ignore[attr-defined]
        fps = driver.find_element("id", "fps").text  # type: ignore[attr-defined]
        rows = driver.find_elements("css selector", "#stages tbody tr")  # type: ignore[attr-defined]
        legend = driver.find_element("id", "legend").text  # type: ignore[attr-defined]
        spark = driver.find_element("id", "sparkline").get_attribute("points")  # type: ignore[attr-defined]
    finally:
        if driver is not None:
            driver.quit()  # type: ignore[attr-defined]
        cli.stop()
        shutil.rmtree(user_data, ignore_errors=True)
    a = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR)
    b = cv2.imdecode(np.frombuffer(second, np.uint8), cv2.IMREAD_COLOR)
    assert a.shape == b.shape and float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) > 0.05  # the frame changed
    assert float(fps) > 0 and len(rows) >= 7 and "background" in legend and spark
    keep = os.environ.get("EDGEUNET_KEEP_SCREENSHOTS")  # e.g. benchmarks/results: the two pictures as evidence
    if keep:
        for name, image in (("web-view-1.png", a), ("web-view-2.png", b)):  # half size: small files to commit
            small = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(Path(keep, name)), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
