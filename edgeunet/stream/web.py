"""web://HOST:PORT (and mjpeg://HOST:PORT): watch a headless device from a browser, served by aiohttp.

    /             the live page (overlay, class legend, FPS, drops, per-stage p50/p95/p99, flicker,
                  a one-minute latency sparkline, a snapshot button); works offline (no CDN)
    /stream.mjpg  the overlay as multipart MJPEG (also /stream, /video): the page's <img>, VLC, OpenCV
    /snapshot.jpg the newest overlay as one JPEG (also /frame.jpg)
    /events       server-sent events: the page's numbers, once a second
    /stats.json   the same numbers for scripts;  /metrics  Prometheus text format
    POST /snapshot  saves the current frame, its class-id mask and the overlay into --snapshot-dir

Why aiohttp: one event loop in one thread serves any number of slow viewers without a thread per
client, and it is a maintained HTTP stack (http.server is not meant for anything that listens).

Secure by default: bound to loopback unless the user names another address; then a token is
required (given, or made with `secrets.token_urlsafe` and printed once with the URL). Every route
checks it (`?token=` or `Authorization: Bearer`), 401 without. At most `max_clients` viewers of the
stream at once (503 for the rest), so a forgotten browser tab cannot starve the device.
"""

from __future__ import annotations

import asyncio
import datetime
import errno
import hmac
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import cv2
import numpy as np
from aiohttp import web

from edgeunet.core.atomic import atomic_write_bytes, ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.access import ASSUME_REMOTE_ENV, is_loopback, new_token, token_required  # noqa: F401 - web.is_loopback, web.ASSUME_REMOTE_ENV are public names
from edgeunet.stream.sink_base import Sink, SinkSpec, StreamInfo
from edgeunet.stream.web_metrics import prometheus_text, sparkline
from edgeunet.stream.web_page import PAGE

BOUNDARY = "edgeunetframe"
STREAM_PATHS = ("/stream.mjpg", "/stream", "/video")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class WebOptions:
    """How the web view listens: token, viewer limit, snapshot folder; the CLI's --token, --max-clients, --snapshot-dir."""

    token: Optional[str] = None
    max_clients: int = 4
    snapshot_dir: Path = field(default_factory=lambda: Path("snapshots"))
    quality: int = 80
    require_token: Optional[bool] = None  # None: exactly when bound beyond loopback; True simulates that in tests
    log: Optional[Callable[[str], None]] = None  # where the one-time URL with a generated token is printed

    def check(self) -> "WebOptions":
        if self.max_clients < 1:
            raise EdgeUnetError(f"--max-clients {self.max_clients}: must be at least 1")
        if self.token is not None and len(self.token) < 8:
            raise EdgeUnetError("--token: use at least 8 characters (or leave it out on a non-loopback address to get a random one)")
        return self


class FrameHub:
    """The newest picture and an event the stream handlers await; lives on the server's event loop."""

    def __init__(self) -> None:
        self.view: Optional[np.ndarray] = None
        self.frame: Optional[np.ndarray] = None
        self.mask: Optional[np.ndarray] = None
        self.index = -1
        self.jpeg = b""
        self.seq = 0
        self.viewers = 0
        self.closing = False
        self.event: Optional[asyncio.Event] = None

    @property
    def clients(self) -> int:
        """The old MJPEG server's name for `viewers`."""
        return self.viewers

    def wake(self) -> None:
        """Called on the loop: every awaiting viewer sees the new frame (or the shutdown)."""
        old, self.event = self.event, asyncio.Event()
        if old is not None:
            old.set()


class WebSink(Sink):
    """The live web view (kind 'web') or the bare MJPEG server (kind 'mjpeg'): one aiohttp server either way."""

    kind = "web"

    def __init__(self, spec: SinkSpec, options: Optional[WebOptions] = None) -> None:
        super().__init__(spec)
        self.kind = spec.kind
        self.options = (options or WebOptions()).check()
        self.hub = FrameHub()
        self.info: Optional[StreamInfo] = None
        self.token: Optional[str] = self.options.token
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self._port = spec.port

    # -- set-up -------------------------------------------------------------------------------------
    def open(self) -> "WebSink":
        host = self.spec.host
        generated = token_required(host, self.options.require_token) and not self.token
        if generated:
            self.token = new_token()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"{self.kind}-server", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(host, self.spec.port), self._loop).result(10)
        except OSError as exc:
            self._stop_loop()
            raise EdgeUnetError(f"output {self.name}: {bind_problem(exc, host, self.spec.port, self.kind)}") from None
        self.where = self.url
        if generated and self.options.log is not None:
            self.options.log(f"{self.kind}:// on {host} needs a token; open {self.url}?token={self.token} "
                             "(shown once; pass --token or EDGEUNET_TOKEN to choose it)")
        return self

    async def _start(self, host: str, port: int) -> None:
        self.hub.event = asyncio.Event()
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self._page)
        app.router.add_get("/index.html", self._page)
        for path in STREAM_PATHS:
            app.router.add_get(path, self._stream)
        app.router.add_get("/snapshot.jpg", self._snapshot_jpeg)
        app.router.add_get("/frame.jpg", self._snapshot_jpeg)
        app.router.add_post("/snapshot", self._save_snapshot)
        app.router.add_get("/events", self._events)
        app.router.add_get("/stats.json", self._stats_json)
        app.router.add_get("/metrics", self._metrics)
        app.on_shutdown.append(self._on_shutdown)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses  # the real port when 0 (any free port) was asked for
        self._port = int(addresses[0][1]) if addresses else port

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = self.spec.host
        shown = "THIS-MACHINE" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
        return f"http://{shown}:{self.port}/"

    def attach(self, info: StreamInfo) -> None:
        self.info = info

    # -- frames (the pipeline's sink thread) --------------------------------------------------------
    def write_result(self, view: np.ndarray, index: int, frame: np.ndarray, mask: np.ndarray) -> None:
        hub = self.hub
        hub.view, hub.frame, hub.mask, hub.index = view, frame, mask, index
        self.frames += 1
        if hub.viewers == 0:
            return  # nobody watching: no encode; /snapshot.jpg encodes the kept view on demand
        ok, encoded = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, self.options.quality])
        if ok and self._loop is not None:
            hub.jpeg = encoded.tobytes()
            hub.seq += 1
            self._loop.call_soon_threadsafe(hub.wake)

    def write(self, frame: np.ndarray, index: int) -> None:
        self.write_result(frame, index, frame, np.zeros(frame.shape[:2], np.uint8))

    # -- routes --------------------------------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is not None and not self._authorised(request):
            return web.Response(status=401, text="401: add ?token=... or an Authorization: Bearer header\n",
                                headers={"WWW-Authenticate": 'Bearer realm="edgeunet"'})
        return await handler(request)

    def _authorised(self, request: web.Request) -> bool:
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            given = given or header[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), str(self.token).encode())

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        hub = self.hub
        if hub.viewers >= self.options.max_clients:
            return web.Response(status=503, text=f"503: already {hub.viewers} viewers (--max-clients {self.options.max_clients})\n",
                                headers={"Retry-After": "5"})
        response = web.StreamResponse(headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                               "Cache-Control": "no-cache, private"})
        hub.viewers += 1
        try:
            await response.prepare(request)
            seq = -1
            while not hub.closing:
                if hub.seq == seq or not hub.jpeg:
                    event = hub.event
                    if event is not None:
                        try:
                            await asyncio.wait_for(event.wait(), 1.0)
                        except asyncio.TimeoutError:
                            pass
                    continue
                seq, jpeg = hub.seq, hub.jpeg
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                await response.write(head + jpeg + b"\r\n")
        except ConnectionError:
            pass  # the viewer went away: normal
        finally:
            hub.viewers -= 1
        return response

    async def _snapshot_jpeg(self, request: web.Request) -> web.Response:
        view = self.hub.view
        if view is None:
            return web.Response(status=503, text="no frame yet\n")
        ok, encoded = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, self.options.quality])
        return web.Response(body=encoded.tobytes(), content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def _save_snapshot(self, request: web.Request) -> web.Response:
        hub = self.hub
        if hub.frame is None or hub.mask is None or hub.view is None:
            return web.json_response({"error": "no frame yet"}, status=503)
        loop = asyncio.get_running_loop()
        try:
            saved = await loop.run_in_executor(None, save_snapshot, self.options.snapshot_dir, hub.index, hub.frame, hub.mask, hub.view)
        except (EdgeUnetError, OSError) as exc:
            return web.json_response({"error": str(exc)}, status=500)
        return web.json_response({"saved": saved, "folder": str(self.options.snapshot_dir)})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            while not self.hub.closing:
                await response.write(f"data: {json.dumps(self.live_stats())}\n\n".encode())
                await asyncio.sleep(1.0)
        except ConnectionError:
            pass  # the page was closed
        return response

    async def _stats_json(self, request: web.Request) -> web.Response:
        return web.json_response(self.live_stats(), headers={"Cache-Control": "no-store"})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=prometheus_text(self.live_stats()), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    def live_stats(self) -> Dict[str, Any]:
        """The numbers the page, /stats.json and /metrics show; the source is already redacted by the stream."""
        base: Dict[str, Any] = self.info.live_stats() if self.info is not None else {}
        info = self.info
        classes: List[Dict[str, Any]] = []
        if info is not None:
            for i, name in enumerate(info.class_names):
                b, g, r = (list(info.colors[i]) + [0, 0, 0])[:3] if i < len(info.colors) else (128, 128, 128)
                classes.append({"id": i, "name": name, "color": f"#{int(r):02x}{int(g):02x}{int(b):02x}"})
        return {**base, "model": info.model if info else "", "source": info.source if info else "", "classes": classes,
                "viewers": self.hub.viewers, "max_clients": self.options.max_clients, "frame_index": self.hub.index,
                "sparkline": sparkline(info.recorder if info is not None else None)}

    # -- shutdown ------------------------------------------------------------------------------------
    async def _on_shutdown(self, app: web.Application) -> None:
        self.hub.closing = True
        self.hub.wake()

    async def _cleanup(self) -> None:
        self.hub.closing = True
        self.hub.wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _stop_loop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop.close()
            self._loop = None

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop).result(10)
        finally:
            self._stop_loop()


def save_snapshot(folder: Path, index: int, frame: np.ndarray, mask: np.ndarray, view: np.ndarray) -> List[str]:
    """frame (PNG, as decoded), mask (PNG of class ids) and overlay (JPEG), each written whole then renamed."""
    ensure_writable_dir(Path(folder), "--snapshot-dir")
    stem = f"snap-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}-{index:06d}"
    saved = []
    for suffix, image in (("frame.png", frame), ("mask.png", mask), ("overlay.jpg", view)):
        ok, encoded = cv2.imencode("." + suffix.rsplit(".", 1)[1], image)
        if not ok:
            raise OSError(f"cannot encode the {suffix} of frame {index}")
        target = Path(folder) / f"{stem}-{suffix}"
        atomic_write_bytes(target, encoded.tobytes())
        saved.append(target.name)
    return saved


def bind_problem(exc: OSError, host: str, port: int, scheme: str = "web") -> str:
    """An OSError from listening, as one line with what to do."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (another stream?); choose another, e.g. {scheme}://{host}:{port + 1}"
    if exc.errno == errno.EACCES:
        return f"port {port} needs administrator rights; choose a port above 1023"
    if exc.errno in (errno.EADDRNOTAVAIL, -2, -3, -5) or "resolve" in str(exc).lower() or "name" in str(exc).lower():
        return f"{host} is not an address of this machine; use 127.0.0.1 (this machine) or 0.0.0.0 with a --token (all interfaces)"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
