"""Sinks: grammar, always-valid files, the MJPEG server (read by a real HTTP client), headless detection."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.sinks import DisplaySink, ImageFolderSink, VideoFileSink, display_problem, open_sinks, parse_sink


@pytest.mark.parametrize(
    ("text", "kind", "host", "port"),
    [
        ("out.mp4", "video", "", 0), ("runs/x/out.AVI", "video", "", 0), ("file://out.mkv", "video", "", 0),
        ("frames/", "images", "", 0), ("frames", "images", "", 0),
        ("display://", "display", "", 0), ("display://0", "display", "", 0), ("null", "null", "", 0),
        ("mjpeg://", "mjpeg", "127.0.0.1", 8090), ("mjpeg://:9000", "mjpeg", "127.0.0.1", 9000),
        ("mjpeg://9001", "mjpeg", "127.0.0.1", 9001), ("mjpeg://0.0.0.0:8091", "mjpeg", "0.0.0.0", 8091),
        ("mjpeg://[::1]:8092", "mjpeg", "::1", 8092),
    ],
)
def test_parse_sink(text: str, kind: str, host: str, port: int) -> None:
    spec = parse_sink(text)
    assert (spec.kind, spec.host, spec.port) == (kind, host, port)


@pytest.mark.parametrize(("text", "fragment"), [("rtmp://x", "unknown scheme"), ("out.xyz", "unknown file type"),
                                                ("out.png", "unknown file type"), ("mjpeg://host:http", "not a number")])
def test_parse_sink_errors(text: str, fragment: str) -> None:
    with pytest.raises(EdgeUnetError, match=fragment):
        parse_sink(text)


def _frames(n: int, w: int = 96, h: int = 64) -> list:
    return [np.full((h, w, 3), (i * 20) % 256, np.uint8) for i in range(n)]


def _count(path: Path) -> tuple:
    cap = cv2.VideoCapture(str(path))
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            return n, shape
        n, shape = n + 1, frame.shape


@pytest.mark.parametrize("name", ["out.mp4", "out.avi"])
def test_video_appears_only_when_complete(tmp_path: Path, name: str) -> None:
    target = tmp_path / "sub" / name
    sink = VideoFileSink(parse_sink(str(target)), fps=10).open()
    for i, frame in enumerate(_frames(8)):
        sink.write(frame, i)
    sink.write(np.zeros((32, 48, 3), np.uint8), 8)  # another size (a camera that came back at 640x480): resized, stream stays valid
    assert not target.exists()  # still being written under a hidden temporary name
    sink.close()
    assert _count(target) == (9, (64, 96, 3))
    assert not list(target.parent.glob(".*partial*"))


def test_video_sink_without_frames_leaves_nothing(tmp_path: Path) -> None:
    sink = VideoFileSink(parse_sink(str(tmp_path / "empty.mp4")), fps=10).open()
    sink.close()
    assert list(tmp_path.iterdir()) == []


def test_image_folder_sink(tmp_path: Path) -> None:
    sink = ImageFolderSink(parse_sink(str(tmp_path / "frames") + "/")).open()
    for i, frame in enumerate(_frames(3)):
        sink.write(frame, i + 10)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["000010.jpg", "000011.jpg", "000012.jpg"]
    assert cv2.imread(str(tmp_path / "frames" / "000012.jpg")).shape == (64, 96, 3)



def test_display_on_a_headless_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    problem = display_problem()
    assert problem is not None and "mjpeg://" in problem
    with pytest.raises(EdgeUnetError, match="mjpeg://"):
        DisplaySink(parse_sink("display://")).open()


def test_open_sinks_refuses_twice_the_same_file(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="twice"):
        open_sinks([str(tmp_path / "a.mp4"), str(tmp_path / "a.mp4")])


def test_open_sinks_closes_what_it_opened_on_failure(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(EdgeUnetError, match="in use"):
            open_sinks(["mjpeg://127.0.0.1:0", f"mjpeg://127.0.0.1:{busy.getsockname()[1]}"])


def test_a_video_short_of_frames_is_an_error_not_a_success(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import errno

    import numpy as np

    from edgeunet.stream import sinks

    sink = sinks.make_sink(str(tmp_path / "out.avi"), fps=10).open()
    for i in range(5):
        sink.write(np.full((48, 64, 3), i * 40, np.uint8), i)
    monkeypatch.setattr(sinks.shutil, "disk_usage", lambda path: type("U", (), {"free": 0})())
    sink.frames = 9  # the writer was told of 9 frames, the file holds 5 (what a full disk does to VideoWriter)
    with pytest.raises(OSError) as info:
        sink.close()
    assert info.value.errno == errno.ENOSPC and "holds 5 of 9 frames" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither the video nor its temporary


def test_a_frame_that_cannot_be_written_leaves_no_temporary(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import builtins
    import errno

    import numpy as np

    from edgeunet.stream import sinks

    sink = sinks.make_sink(str(tmp_path / "frames") + "/").open()
    real_open = builtins.open

    def full(path, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full)
    with pytest.raises(OSError):
        sink.write(np.zeros((8, 8, 3), np.uint8), 0)
    monkeypatch.undo()
    sink.close()
    assert not (tmp_path / "frames").exists()  # made by the sink, nothing written: removed
