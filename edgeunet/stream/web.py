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
checks it (`?token=` or `Authorization: Bearer`), 401 without. Before any of that, web_guard caps
connections (total, per address) and the time to send a request; web_policy checks `Host` (DNS
rebinding), the same-origin rule for POST /snapshot and adds the security headers to every response.
At most `max_clients` viewers of the video and `Limits.max_events` of /events at once (503 for the
rest, after taking the slot of one whose socket has stopped reading), so neither a forgotten browser
tab nor a thousand idle sockets can starve the device.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np
from aiohttp import web

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.access import ASSUME_REMOTE_ENV, is_loopback, new_token, token_required  # noqa: F401 - web.is_loopback, web.ASSUME_REMOTE_ENV are public names
from edgeunet.stream.sink_base import Sink, SinkSpec, StreamInfo
from edgeunet.stream.web_guard import ConnectionGuard, Limits, Slots, server_logger, take_soon, wait_event
from edgeunet.stream.web_metrics import prometheus_text, sparkline
from edgeunet.stream.web_page import PAGE
from edgeunet.stream.web_policy import SECURITY_HEADERS, allowed_hosts, host_allowed, same_origin
from edgeunet.stream.web_snapshot import save_snapshot  # noqa: F401 - web.save_snapshot is a public name

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
    allowed_hosts: Tuple[str, ...] = ()  # names besides the bound address that `Host` may carry (--allowed-host)
    snapshot_quota_mb: int = 256  # POST /snapshot stops when --snapshot-dir holds this much of our snapshots
    limits: Limits = field(default_factory=Limits)

    def check(self) -> "WebOptions":
        if self.max_clients < 1:
            raise EdgeUnetError(f"--max-clients {self.max_clients}: must be at least 1")
        if self.snapshot_quota_mb < 1:
            raise EdgeUnetError(f"--snapshot-quota {self.snapshot_quota_mb}: must be at least 1 (MiB)")
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
        self._server: Optional[asyncio.AbstractServer] = None
        self._port = spec.port
        limits = self.options.limits
        self.guard: Optional[ConnectionGuard] = None
        self.viewer_slots = Slots(self.options.max_clients, limits)
        self.event_slots = Slots(limits.max_events, limits)
        self._hosts = allowed_hosts(spec.host, self.options.allowed_hosts)
        self._saving = False

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
                             "(shown once; pass --token-file or EDGEUNET_TOKEN to choose it)")
        return self

    async def _start(self, host: str, port: int) -> None:
        self.hub.event = asyncio.Event()
        limits = self.options.limits
        app = web.Application(middlewares=[self._gate, self._auth], client_max_size=limits.body_bytes)
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
        app.on_response_prepare.append(_security_headers)
        log = self.options.log or (lambda _msg: None)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0,
                               keepalive_timeout=limits.header_timeout, lingering_time=1.0, max_line_size=4096,
                               max_field_size=4096, max_headers=32, logger=server_logger(f"{self.kind}{id(self)}", log))
        await runner.setup()
        guard = ConnectionGuard(limits, runner.server)  # type: ignore[arg-type]
        try:
            self._server = await asyncio.get_running_loop().create_server(guard.factory, host, port, reuse_address=True)
        except BaseException:
            await runner.cleanup()
            raise
        guard.start()
        self._runner, self.guard = runner, guard
        sockets = self._server.sockets or ()
        self._port = int(sockets[0].getsockname()[1]) if sockets else port  # the real port when 0 was asked for

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
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Before the token: Host (DNS rebinding) and body size; the connection is not pending while a handler runs."""
        guard, transport = self.guard, request.transport
        if guard is not None:
            guard.busy(transport)
        try:
            if not host_allowed(request.headers.get("Host"), self.spec.host, self._hosts):
                return web.Response(status=421, text="421: this Host is not served here; add it with --allowed-host NAME\n")
            if (request.content_length or 0) > self.options.limits.body_bytes or request.headers.get("Transfer-Encoding"):
                return web.Response(status=413, text="413: no route here takes a request body\n", headers={"Connection": "close"})
            return await handler(request)
        finally:
            if guard is not None:
                guard.idle(transport)

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
        hub, slots = self.hub, self.viewer_slots
        slot = await take_soon(slots, request.transport, max(64 << 10, self.options.limits.buffered_frames * len(hub.jpeg)))
        if slot is None:
            return web.Response(status=503, text=f"503: already {len(slots)} viewers (--max-clients {self.options.max_clients})\n",
                                headers={"Retry-After": "5"})
        response = web.StreamResponse(headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                               "Cache-Control": "no-cache, private"})
        hub.viewers = len(slots)
        try:
            if not await slots.send(slot, response.prepare(request)):
                return response
            seq = -1
            while not hub.closing:
                if hub.seq == seq or not hub.jpeg:
                    await wait_event(hub.event, 1.0)
                    continue
                seq, jpeg = hub.seq, hub.jpeg
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                if not await slots.send(slot, response.write(head + jpeg + b"\r\n")):
                    break
        finally:
            slots.release(slot)
            hub.viewers = len(slots)
        return response

    async def _snapshot_jpeg(self, request: web.Request) -> web.Response:
        view = self.hub.view
        if view is None:
            return web.Response(status=503, text="no frame yet\n")
        ok, encoded = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, self.options.quality])
        return web.Response(body=encoded.tobytes(), content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def _save_snapshot(self, request: web.Request) -> web.Response:
        """State-changing, so: the token, or (no token on loopback) a same-origin request from our own page; one at a time."""
        hub = self.hub
        if self.token is None:
            why = same_origin(request.headers)
            if why is not None:
                return web.json_response({"error": f"cross-origin snapshot refused: {why}"}, status=403)
        if hub.frame is None or hub.mask is None or hub.view is None:
            return web.json_response({"error": "no frame yet"}, status=503)
        if self._saving:
            return web.json_response({"error": "a snapshot is being saved; try again"}, status=429, headers={"Retry-After": "1"})
        self._saving = True
        loop = asyncio.get_running_loop()
        try:
            saved = await loop.run_in_executor(None, save_snapshot, self.options.snapshot_dir, hub.index, hub.frame, hub.mask,
                                               hub.view, self.options.snapshot_quota_mb << 20)
        except (EdgeUnetError, OSError) as exc:
            status = 507 if isinstance(exc, EdgeUnetError) and "quota" in str(exc) else 500
            return web.json_response({"error": str(exc) if isinstance(exc, EdgeUnetError) else f"cannot save: {exc.strerror or exc}"},
                                     status=status)
        finally:
            self._saving = False
        return web.json_response({"saved": saved, "folder": str(self.options.snapshot_dir)})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        slots = self.event_slots
        slot = slots.take(request.transport, 16 << 10)
        if slot is None:
            return web.Response(status=503, text="503: too many /events subscribers\n", headers={"Retry-After": "5"})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        try:
            if not await slots.send(slot, response.prepare(request)):
                return response
            while not self.hub.closing:
                data = f"data: {json.dumps(self.live_stats())}\n\n".encode()
                if not await slots.send(slot, response.write(data)):
                    break
                await asyncio.sleep(1.0)
        finally:
            slots.release(slot)
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
                "events_subscribers": len(self.event_slots), "connections": self.guard.snapshot() if self.guard else {},
                "sparkline": sparkline(info.recorder if info is not None else None)}

    # -- shutdown ------------------------------------------------------------------------------------
    async def _on_shutdown(self, app: web.Application) -> None:
        self.hub.closing = True
        self.hub.wake()

    async def _cleanup(self) -> None:
        self.hub.closing = True
        self.hub.wake()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self.guard is not None:
            self.guard.stop()
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


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response of the app (pages, frames, errors) forbids framing, sniffing and referrers (web_policy)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def bind_problem(exc: OSError, host: str, port: int, scheme: str = "web") -> str:
    """An OSError from listening, as one line with what to do."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (another stream?); choose another, e.g. {scheme}://{host}:{port + 1}"
    if exc.errno == errno.EACCES:
        return f"port {port} needs administrator rights; choose a port above 1023"
    if exc.errno in (errno.EADDRNOTAVAIL, -2, -3, -5) or "resolve" in str(exc).lower() or "name" in str(exc).lower():
        return f"{host} is not an address of this machine; use 127.0.0.1 (this machine) or 0.0.0.0 with a --token (all interfaces)"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
