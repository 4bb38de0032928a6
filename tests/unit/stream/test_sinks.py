"""Sinks: grammar, always-valid files, the MJPEG server (read by a real HTTP client), headless detection."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.sinks import (
    SINKS,
    DisplaySink,
    ImageFolderSink,
    Sink,
    SinkKind,
    SinkSpec,
    display_problem,
    grammar,
    make_sink,
    open_sinks,
    parse_sink,
    register_sink,
)


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


# -- the sink table ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "closest"), [("nul", "null"), ("display:", "display://"), ("web:/x", "web://"), ("mjpg", "mjpeg://"),
                                               ("dispaly", "display://"), ("rtsp:/cam", "rtsp://"), ("Null:", "null"),
                                               ("rstp://host", "rtsp://"), ("webb://", "web://")])
def test_a_mistyped_sink_is_one_line_naming_the_closest(text: str, closest: str) -> None:
    """`-o nul` used to write a folder of JPEG frames named nul and exit 0."""
    with pytest.raises(EdgeUnetError) as info:
        parse_sink(text)
    message = str(info.value)
    assert closest in message and "\n" not in message


@pytest.mark.parametrize("text", ["frames", "webcam", "results", "./display:/", "C:/frames", "masks/"])
def test_folder_names_stay_folders(text: str) -> None:
    assert parse_sink(text).kind == "images"


def test_unknown_names_list_every_known_sink() -> None:
    with pytest.raises(EdgeUnetError) as info:
        parse_sink("ftp://host/x")
    assert all(kind.usage in str(info.value) for kind in SINKS.values())
    with pytest.raises(EdgeUnetError, match="unknown sink kind 'gif'; known: video, images"):
        make_sink(SinkSpec("gif", text="x.gif"))


def test_a_registered_sink_is_parsed_built_and_opened(tmp_path: Path) -> None:
    """What a newcomer's sink needs: one row. The grammar, make_sink, open_sinks and the lists in errors follow."""
    made: List[SinkSpec] = []

    class Counter(Sink):
        kind = "count"

    row = register_sink(SinkKind("count", "count://", lambda spec, fps, web: made.append(spec) or Counter(spec), schemes=("count",)))
    try:
        assert "count://" in grammar()
        sinks = open_sinks(["count://", str(tmp_path / "frames") + "/"])
        assert [type(s).__name__ for s in sinks] == ["Counter", "ImageFolderSink"] and made[0].kind == "count"
        with pytest.raises(ValueError, match="already registered"):
            register_sink(row)
    finally:
        del SINKS["count"]


@pytest.mark.parametrize("text", ["out.mp4", "out.avi", "frames/", "null", "mjpeg://127.0.0.1:0", "web://127.0.0.1:0"])
def test_every_sink_that_runs_here_keeps_the_contract(tmp_path: Path, text: str) -> None:
    """The shared contract: open, take frames (write_result), count them, close twice; a kind's problem() is None here."""
    spec = parse_sink(str(tmp_path / text) if "://" not in text and text != "null" else text)
    assert SINKS[spec.kind].problem is None or SINKS[spec.kind].problem() is None
    sink = make_sink(spec, fps=10).open()
    try:
        for i, frame in enumerate(_frames(3)):
            sink.write_result(frame, i, frame, np.zeros(frame.shape[:2], np.uint8))
        assert sink.frames == 3 and isinstance(sink.codec, str)
    finally:
        sink.close()
    sink.close()


def test_a_video_short_of_frames_is_an_error_not_a_success(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import errno

    import numpy as np

    from edgeunet.stream import sinks, video_sink

    sink = sinks.make_sink(str(tmp_path / "out.avi"), fps=10).open()
    for i in range(5):
        sink.write(np.full((48, 64, 3), i * 40, np.uint8), i)
    monkeypatch.setattr(video_sink.shutil, "disk_usage", lambda path: type("U", (), {"free": 0})())
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
