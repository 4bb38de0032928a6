"""The web view: page, stats, metrics, events, snapshots; token on every route; the viewer limit."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, List

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.sinks import SinkSpec, StreamInfo
from edgeunet.stream.stats import LatencyRecorder
from edgeunet.stream.web import WebOptions, WebSink, is_loopback

ROUTES = ["/", "/index.html", "/stream.mjpg", "/snapshot.jpg", "/events", "/stats.json", "/metrics"]


def _info(recorder: LatencyRecorder) -> StreamInfo:
    return StreamInfo("m.onnx", "rtsp://user:***@cam/x", ["background", "membrane"], [[0, 0, 0], [0, 0, 255]],
                      lambda: {"frames": recorder.frames, "dropped": 2, "fps": 9.5, "rolling_fps": 9.8,
                               "stages": {k: {"count": 1, **v} for k, v in recorder.summary().items() if v.get("count")},
                               "flicker_last_second": 1.25}, recorder)


def _feed(sink: WebSink, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        view = np.full((64, 96, 3), (i * 17) % 256, np.uint8)
        sink.write_result(view, i, view[:, :, 0].copy(), (np.arange(96) % 2).astype(np.uint8)[None].repeat(64, 0))
        i += 1
        time.sleep(0.02)


@pytest.fixture()
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WebSink]:
    options = getattr(request, "param", {})
    recorder = LatencyRecorder()
    recorder.start()
    for ms in (10.0, 11.0, 30.0):
        recorder.add("inference", ms)
        recorder.add("end_to_end", ms + 5)
    sink = WebSink(SinkSpec("web", host="127.0.0.1", port=0, text="web://127.0.0.1:0"),
                   WebOptions(snapshot_dir=tmp_path / "snaps", **options)).open()
    sink.attach(_info(recorder))
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(sink, stop), daemon=True)
    feeder.start()
    try:
        yield sink
    finally:
        stop.set()
        feeder.join()
        sink.close()


def _get(sink: WebSink, path: str, headers: dict | None = None, method: str = "GET") -> tuple:
    request = urllib.request.Request(f"http://127.0.0.1:{sink.port}{path}", headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read(2000) if path.startswith(("/stream.mjpg", "/events")) else response.read()
            return response.status, body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_page_stats_metrics_events_and_snapshot(served: WebSink, tmp_path: Path) -> None:
    status, page = _get(served, "/")
    assert status == 200 and b"/stream.mjpg" in page and b"EventSource" in page and b"http" not in page.split(b"<script>")[0].lower()
    stats = json.loads(_get(served, "/stats.json")[1])
    assert stats["classes"][1] == {"id": 1, "name": "membrane", "color": "#ff0000"}
    assert stats["stages"]["inference"]["p50"] == pytest.approx(11.0) and stats["source"] == "rtsp://user:***@cam/x"
    assert len(stats["sparkline"]["values"]) == 60 and stats["sparkline"]["values"][-1] == pytest.approx(16.0)
    metrics = _get(served, "/metrics")[1].decode()
    assert 'edgeunet_stream_latency_ms{quantile="0.99",stage="inference"}' in metrics
    assert "edgeunet_stream_dropped_total 2.0" in metrics and "edgeunet_stream_flicker_percent 1.25" in metrics
    status, events = _get(served, "/events")
    assert status == 200 and events.startswith(b"data: {")
    time.sleep(0.1)
    jpeg = _get(served, "/snapshot.jpg")[1]
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (64, 96, 3)
    status, body = _get(served, "/snapshot", {"X-Edgeunet-Request": "1"}, method="POST")
    saved = json.loads(body)["saved"]
    assert status == 200 and [n.rsplit("-", 1)[1] for n in saved] == ["frame.png", "mask.png", "overlay.jpg"]
    mask = cv2.imread(str(tmp_path / "snaps" / saved[1]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (64, 96) and set(np.unique(mask)) == {0, 1}
    assert not [p for p in (tmp_path / "snaps").iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.parametrize("served", [{"token": "s3cret-token-1", "require_token": True}], indirect=True)
def test_every_route_needs_the_token(served: WebSink) -> None:
    for path in ROUTES:
        assert _get(served, path)[0] == 401, path
        assert _get(served, path + "?token=wrong-token")[0] == 401, path
    assert _get(served, "/snapshot", method="POST")[0] == 401
    for path in ("/", "/stats.json", "/metrics", "/snapshot.jpg", "/stream.mjpg"):
        assert _get(served, path + "?token=s3cret-token-1")[0] == 200, path
        assert _get(served, path, {"Authorization": "Bearer s3cret-token-1"})[0] == 200, path


def test_beyond_loopback_a_token_is_made_and_printed_once(tmp_path: Path) -> None:
    lines: List[str] = []
    sink = WebSink(SinkSpec("web", host="127.0.0.1", port=0, text="web://"), WebOptions(require_token=True, log=lines.append)).open()
    try:
        assert sink.token and len(sink.token) >= 24 and len(lines) == 1 and f"?token={sink.token}" in lines[0]
        assert sink.token not in sink.where and _get(sink, "/stats.json")[0] == 401
        assert _get(sink, f"/stats.json?token={sink.token}")[0] == 200
    finally:
        sink.close()


@pytest.mark.parametrize("served", [{"max_clients": 4}], indirect=True)
def test_the_fifth_viewer_gets_503(served: WebSink) -> None:
    viewers = []
    try:
        for _ in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
            conn.request("GET", "/stream.mjpg")
            response = conn.getresponse()
            assert response.status == 200 and response.read(64).startswith(b"--edgeunetframe")
            viewers.append(conn)
        assert _get(served, "/stream.mjpg")[0] == 503
        assert json.loads(_get(served, "/stats.json")[1])["viewers"] == 4
    finally:
        for conn in viewers:
            conn.close()
    end = time.time() + 5
    while served.hub.viewers and time.time() < end:
        time.sleep(0.05)
    assert _get(served, "/stream.mjpg")[0] == 200  # a freed slot is usable again


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
                                               ("0.0.0.0", False), ("192.168.1.5", False), ("jetson.local", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_bad_options_are_one_line() -> None:
    with pytest.raises(EdgeUnetError, match="--max-clients"):
        WebOptions(max_clients=0).check()
    with pytest.raises(EdgeUnetError, match="--token"):
        WebOptions(token="short").check()


def test_cross_origin_snapshot_is_refused_and_ours_is_accepted(served: WebSink) -> None:
    time.sleep(0.1)
    assert _get(served, "/snapshot", method="POST")[0] == 403  # a simple (form) POST from any page
    evil = {"X-Edgeunet-Request": "1", "Origin": "http://evil.example"}
    assert _get(served, "/snapshot", evil, method="POST")[0] == 403
    assert _get(served, "/snapshot", {"X-Edgeunet-Request": "1", "Sec-Fetch-Site": "cross-site"}, method="POST")[0] == 403
    ours = {"X-Edgeunet-Request": "1", "Origin": f"http://127.0.0.1:{served.port}", "Sec-Fetch-Site": "same-origin"}
    assert _get(served, "/snapshot", ours, method="POST")[0] == 200


@pytest.mark.parametrize("served", [{"snapshot_quota_mb": 1}], indirect=True)
def test_snapshots_stop_at_the_quota(served: WebSink, tmp_path: Path) -> None:
    time.sleep(0.1)
    (tmp_path / "snaps").mkdir()
    (tmp_path / "snaps" / "snap-old-frame.png").write_bytes(b"x" * (1 << 20))
    status, body = _get(served, "/snapshot", {"X-Edgeunet-Request": "1"}, method="POST")
    assert status == 507 and "quota" in json.loads(body)["error"]
    assert len(list((tmp_path / "snaps").iterdir())) == 1


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "rebind.attacker.test", "10.0.0.9"])
def test_a_foreign_host_header_is_refused(served: WebSink, host: str) -> None:
    for path in ("/", "/stats.json", "/snapshot.jpg"):
        assert _get(served, path, {"Host": host})[0] == 421, (path, host)


@pytest.mark.parametrize("served", [{"allowed_hosts": ("cam.lan",)}], indirect=True)
def test_loopback_and_configured_names_are_served(served: WebSink) -> None:
    for host in (f"127.0.0.1:{served.port}", "localhost", f"localhost:{served.port}", "cam.lan:80", "CAM.LAN"):
        assert _get(served, "/stats.json", {"Host": host})[0] == 200, host


@pytest.mark.parametrize("served", [{}, {"token": "s3cret-token-1", "require_token": True}], indirect=True)
def test_every_response_carries_the_security_headers(served: WebSink) -> None:
    for path in ROUTES + ["/nope"]:
        request = urllib.request.Request(f"http://127.0.0.1:{served.port}{path}")
        try:
            response = urllib.request.urlopen(request, timeout=5)
        except urllib.error.HTTPError as exc:
            response = exc
        headers = response.headers
        response.close()
        assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer", path


def test_a_request_body_is_refused(served: WebSink) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    conn.request("POST", "/snapshot", body=b"x" * 4096, headers={"X-Edgeunet-Request": "1"})
    assert conn.getresponse().status == 413
    conn.close()
