"""The mjpeg:// server sink: page, snapshot, a real MJPEG client, and a busy port as one line."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.mjpeg import MjpegServerSink
from edgeunet.stream.sinks import SinkSpec, parse_sink


def _frames(n: int, w: int = 96, h: int = 64) -> list:
    return [np.full((h, w, 3), (i * 20) % 256, np.uint8) for i in range(n)]




def test_mjpeg_server_serves_page_snapshot_and_stream() -> None:
    sink = MjpegServerSink(SinkSpec("mjpeg", host="127.0.0.1", port=0, text="mjpeg://127.0.0.1:0")).open()
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.is_set():
            sink.write(_frames(1)[0], i)
            i += 1
            time.sleep(0.02)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        base = f"http://127.0.0.1:{sink.port}"
        assert b"/stream.mjpg" in urllib.request.urlopen(base + "/", timeout=5).read()
        time.sleep(0.1)
        snap = urllib.request.urlopen(base + "/snapshot.jpg", timeout=5).read()
        assert cv2.imdecode(np.frombuffer(snap, np.uint8), cv2.IMREAD_COLOR).shape == (64, 96, 3)
        cap = cv2.VideoCapture(base + "/stream.mjpg", cv2.CAP_FFMPEG)  # a real MJPEG client
        ok, frame = cap.read()
        cap.release()
        assert ok and frame.shape == (64, 96, 3)
    finally:
        stop.set()
        feeder.join()
        sink.close()


def test_mjpeg_port_in_use_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(EdgeUnetError, match=f"port {port} is already in use"):
            MjpegServerSink(parse_sink(f"mjpeg://127.0.0.1:{port}")).open()

