"""rtsp://HOST:PORT/PATH as an output: the overlay as H.264 over RTSP, served by GStreamer's RTSP server.

    frames (BGR, overlay size, the stream's FPS) -> appsrc -> videoconvert -> H.264 encoder -> rtph264pay -> clients

Why GStreamer's server (gst-rtsp-server through PyGObject): it is what Jetson's own tools and DeepStream use, it
speaks RTSP/RTP to VLC, ffplay, OpenCV and NVRs, and on a Jetson it reaches the hardware encoder (`nvv4l2h264enc`);
elsewhere `x264enc tune=zerolatency speed-preset=ultrafast`. The encoder is chosen by probing the element factory.
Clients share one encoder (a shared media), and no encoding happens while nobody watches.

Secure by default, exactly like web://: bound to loopback it is open; on any other address a token is required
(--token, or one made and printed once) and every client must give it as the RTSP basic-auth password of user
`edgeunet`. The address shown in logs and --stats never carries it. gi/GStreamer are optional (the `rtsp`
extra + Debian packages): without them, opening this sink is a one-line error naming the install steps.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional, Tuple

import cv2
import numpy as np

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.overlay import to_bgr
from edgeunet.stream.access import new_token, token_required
from edgeunet.stream.redact import redact_uri
from edgeunet.stream.sink_base import Sink, SinkSpec

RTSP_USER = "edgeunet"
ROLE = "edgeunet-viewer"
JETSON_ENCODER, SOFTWARE_ENCODER = "nvv4l2h264enc", "x264enc"
APT_PACKAGES = ("python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
                "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav")
INSTALL_HINT = (f"sudo apt-get install -y {APT_PACKAGES} (or `make setup-rtsp`), then in a virtualenv: "
                "sudo apt-get install -y libgirepository1.0-dev libcairo2-dev pkg-config gcc && pip install 'edgeunet[rtsp]'")


def load_gstreamer() -> Tuple[Any, Any, Any]:
    """(Gst, GstRtspServer, GLib), initialised; a one-line error with the install steps when gi or a typelib is missing."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        raise MissingDependencyError(f"rtsp:// output needs GStreamer's RTSP server for Python ({exc}): {INSTALL_HINT}") from None
    Gst.init(None)
    return Gst, GstRtspServer, GLib


def choose_encoder(has_element: Callable[[str], bool]) -> Optional[str]:
    """The Jetson hardware encoder when GStreamer has it, else x264, else None (pure: the doctor and the tests call it)."""
    for name in (JETSON_ENCODER, SOFTWARE_ENCODER):
        if has_element(name):
            return name
    return None


def launch_line(encoder: str, fps: float, width: Optional[int] = None, height: Optional[int] = None) -> str:
    """The gst-launch description of one shared media; caps are set on appsrc at the first frame when the size is unknown.

    A key frame every second (about), so a client that joins sees a picture within a second.
    """
    rate = max(1, round(fps * 1000))
    caps = f" caps=video/x-raw,format=BGR,width={width},height={height},framerate={rate}/1000" if width and height else ""
    gop = max(1, round(fps))
    if encoder == JETSON_ENCODER:
        encode = (f"nvvidconv ! video/x-raw(memory:NVMM),format=I420 ! nvv4l2h264enc insert-sps-pps=true iframeinterval={gop} "
                  f"idrinterval={gop} ! h264parse")
    else:
        encode = f"video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop}"
    # No appsrc leaky-type (GStreamer 1.20+): JetPack 5 has 1.16. The leaky queue drops old frames if the encoder lags.
    return (f"( appsrc name=src is-live=true format=time do-timestamp=true block=false{caps} "
            f"! queue max-size-buffers=2 leaky=downstream ! videoconvert ! {encode} ! rtph264pay name=pay0 pt=96 config-interval=1 )")


class RtspSink(Sink):
    """`rtsp://HOST:PORT/PATH`: an RTSP server in this process; `write` pushes the overlay into every client's media."""

    kind = "rtsp"

    def __init__(self, spec: SinkSpec, fps: float, options: Any = None) -> None:
        super().__init__(spec)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.options = options  # edgeunet.stream.web.WebOptions: token, max_clients, log (shared with web://)
        self.token: Optional[str] = getattr(options, "token", None)
        self.path = spec.location or "/edgeunet"
        self.encoder: Optional[str] = None
        self.size: Optional[Tuple[int, int]] = None
        self._gst: Any = None
        self._server: Any = None
        self._factory: Any = None
        self._loop: Any = None
        self._context: Any = None
        self._thread: Optional[threading.Thread] = None
        self._sources: List[Any] = []  # appsrc elements of the prepared media (one while clients share it)
        self._lock = threading.Lock()
        self._port = spec.port
        self._pts = 0

    # -- set-up -------------------------------------------------------------------------------------
    def open(self) -> "RtspSink":
        Gst, GstRtspServer, GLib = load_gstreamer()
        self._gst = Gst
        self.encoder = choose_encoder(lambda name: Gst.ElementFactory.find(name) is not None)
        self.codec = f"{self.encoder} (GStreamer)"
        if self.encoder is None or Gst.ElementFactory.find("rtph264pay") is None:
            raise MissingDependencyError(f"output {self.name}: GStreamer has no H.264 encoder ({JETSON_ENCODER} or {SOFTWARE_ENCODER}) "
                                         f"or no rtph264pay: {INSTALL_HINT}")
        host = self.spec.host
        generated = token_required(host, getattr(self.options, "require_token", None)) and not self.token
        if generated:
            self.token = new_token()
        server = GstRtspServer.RTSPServer()
        server.set_address(host)
        server.set_service(str(self.spec.port))
        max_clients = int(getattr(self.options, "max_clients", 0) or 0)
        if max_clients:
            server.get_session_pool().set_max_sessions(max_clients)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(self.encoder, self.fps))
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media_configure)
        if self.token:
            self._protect(GstRtspServer, server, factory)
        server.get_mount_points().add_factory(self.path, factory)
        self._context = GLib.MainContext.new()
        try:
            source = server.create_source(None)
        except GLib.Error as exc:
            raise EdgeUnetError(f"output {self.name}: cannot listen on {host}:{self.spec.port} ({exc.message}); choose another port, "
                                f"e.g. rtsp://{host}:{self.spec.port + 1}{self.path}, or 127.0.0.1 / 0.0.0.0 with a --token") from None
        source.attach(self._context)
        self._server, self._factory = server, factory
        self._port = int(server.get_bound_port())
        self._loop = GLib.MainLoop.new(self._context, False)
        self._thread = threading.Thread(target=self._loop.run, name="rtsp-server", daemon=True)
        self._thread.start()
        self.where = self.url
        log = getattr(self.options, "log", None)
        if generated and log is not None:
            log(f"rtsp:// on {host} needs a password; play {self.url_with(self.token)} "
                "(shown once; pass --token or EDGEUNET_TOKEN to choose it)")
        return self

    def _protect(self, GstRtspServer: Any, server: Any, factory: Any) -> None:
        """Basic auth: user `edgeunet`, password = the token; only that role may open or build the media."""
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(RTSP_USER, self.token), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role(ROLE, "media.factory.access", True)
        permissions.add_permission_for_role(ROLE, "media.factory.construct", True)
        factory.set_permissions(permissions)

    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        """A client asked for the stream: keep this media's appsrc so write() feeds it, until the media is torn down."""
        appsrc = media.get_element().get_by_name_recurse_up("src")
        if self.size is not None:
            self._set_caps(appsrc)
        with self._lock:
            self._sources.append(appsrc)
        media.connect("unprepared", lambda *_: self._forget(appsrc))

    def _forget(self, appsrc: Any) -> None:
        with self._lock:
            if appsrc in self._sources:
                self._sources.remove(appsrc)

    def _set_caps(self, appsrc: Any) -> None:
        width, height = self.size or (0, 0)
        rate = max(1, round(self.fps * 1000))
        appsrc.set_property("caps", self._gst.Caps.from_string(f"video/x-raw,format=BGR,width={width},height={height},framerate={rate}/1000"))

    @property
    def port(self) -> int:
        return self._port

    def url_with(self, password: Optional[str]) -> str:
        host = self.spec.host
        shown = "THIS-MACHINE" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
        auth = f"{RTSP_USER}:{password}@" if password else ""
        return f"rtsp://{auth}{shown}:{self.port}{self.path}"

    @property
    def url(self) -> str:
        """What logs and --stats show: the password as *** (never the token), by the one redaction rule of edgeunet.stream.redact."""
        return redact_uri(self.url_with(self.token))

    # -- frames (the pipeline's sink thread) --------------------------------------------------------
    def write(self, frame: np.ndarray, index: int) -> None:
        frame = to_bgr(frame)
        size = (frame.shape[1], frame.shape[0])
        if self.size is None:
            self.size = size
        elif size != self.size:  # one stream, one size (a camera that reconnected at another size)
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self.frames += 1
        with self._lock:
            sources = list(self._sources)
        if not sources:
            return  # nobody watching: no encode
        data = np.ascontiguousarray(frame).tobytes()
        for appsrc in sources:
            if appsrc.get_property("caps") is None:
                self._set_caps(appsrc)
            buffer = self._gst.Buffer.new_wrapped(data)
            buffer.duration = int(1e9 / self.fps)
            appsrc.emit("push-buffer", buffer)

    def close(self) -> None:
        with self._lock:
            sources, self._sources = list(self._sources), []
        for appsrc in sources:
            appsrc.emit("end-of-stream")
        if self._server is not None:
            pool = self._server.get_session_pool()
            pool.filter(lambda _pool, _session, *_: 0, None)  # GST_RTSP_FILTER_REMOVE: drop every client session
        if self._loop is not None:
            self._loop.quit()
            if self._thread is not None:
                self._thread.join(5)
            self._loop = None
        self._server = self._factory = None
