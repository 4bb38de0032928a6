"""mjpeg://HOST:PORT: a multipart-MJPEG HTTP server sink (a browser or VLC on another machine watches the overlay)."""

from __future__ import annotations

import errno
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.sinks import Sink, SinkSpec

PAGE = (b"<!doctype html><html><head><title>edgeunet stream</title></head>"
        b"<body style='margin:0;background:#111'><img src='/stream.mjpg' style='max-width:100%'></body></html>")
BOUNDARY = "edgeunetframe"


class _Hub:
    """The newest JPEG and a condition the client threads wait on; encoding happens only while someone watches."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.jpeg = b""
        self.seq = 0
        self.clients = 0
        self.closing = False

    def publish(self, jpeg: bytes) -> None:
        with self.cond:
            self.jpeg, self.seq = jpeg, self.seq + 1
            self.cond.notify_all()

    def next_after(self, seq: int, timeout: float = 0.5) -> Tuple[int, bytes]:
        with self.cond:
            self.cond.wait_for(lambda: self.seq != seq or self.closing, timeout)
            return self.seq, self.jpeg


def _handler(hub: _Hub) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path in ("/", "/index.html"):
                self._send(200, "text/html", PAGE)
            elif path in ("/snapshot.jpg", "/frame.jpg"):
                self._send(200, "image/jpeg", hub.jpeg) if hub.jpeg else self._send(503, "text/plain", b"no frame yet\n")
            elif path in ("/stream.mjpg", "/stream", "/video"):
                self._stream()
            else:
                self._send(404, "text/plain", b"try / or /stream.mjpg\n")

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            with hub.cond:
                hub.clients += 1
            seq = 0
            try:
                while not hub.closing:
                    seq, jpeg = hub.next_after(seq)
                    if not jpeg or hub.closing:
                        continue
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    self.wfile.write(head + jpeg + b"\r\n")
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
                pass  # the viewer went away: normal
            finally:
                with hub.cond:
                    hub.clients -= 1

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    return Handler


class MjpegServerSink(Sink):
    """An HTTP multipart-MJPEG server: open http://HOST:PORT/ in a browser on another machine (bind 0.0.0.0 for that)."""

    kind = "mjpeg"

    def __init__(self, spec: SinkSpec, quality: int = 80) -> None:
        super().__init__(spec)
        self.quality = int(quality)
        self.hub = _Hub()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    def open(self) -> "MjpegServerSink":
        host, port = self.spec.host, self.spec.port
        try:
            server = ThreadingHTTPServer((host, port), _handler(self.hub))
        except OSError as exc:
            raise EdgeUnetError(f"output {self.name}: {self._bind_problem(exc, host, port)}") from None
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="mjpeg-server", daemon=True)
        self._thread.start()
        self.where = self.url
        return self

    @staticmethod
    def _bind_problem(exc: OSError, host: str, port: int) -> str:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} is already in use (another stream?); choose another, e.g. mjpeg://{host}:{port + 1}"
        if exc.errno == errno.EACCES:
            return f"port {port} needs administrator rights; choose a port above 1023"
        if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, OSError) and "resolve" in str(exc).lower():
            return f"{host} is not an address of this machine; use 127.0.0.1 (this machine) or 0.0.0.0 (all interfaces)"
        return f"cannot listen on {host}:{port} ({exc.strerror or exc})"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server is not None else self.spec.port

    @property
    def url(self) -> str:
        host = self.spec.host
        shown = "THIS-MACHINE" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{self.port}/"

    def write(self, frame: np.ndarray, index: int) -> None:
        self.frames += 1
        if self.hub.clients == 0 and self.hub.jpeg:
            return  # nobody watching: skip the encode, keep the last picture for /snapshot.jpg
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            self.hub.publish(encoded.tobytes())

    def close(self) -> None:
        with self.hub.cond:
            self.hub.closing = True
            self.hub.cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

