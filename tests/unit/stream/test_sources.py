"""One source grammar for files, folders, cameras and network streams; parsing is pure and tested on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.sources import (
    CORRUPT,
    END,
    LOST,
    OK,
    SOURCES,
    Source,
    SourceKind,
    SourceSpec,
    csi_pipeline,
    grammar,
    gst_pipeline,
    open_source,
    opencv_has,
    parse_source,
    register_source,
    require_gstreamer,
)


@pytest.mark.parametrize(
    ("text", "kind", "location", "live"),
    [
        ("video.mp4", "path", "video.mp4", False),
        ("file:///data/v.avi", "path", "/data/v.avi", False),
        ("frames/", "path", "frames/", False),
        ("frames/*.png", "images", "frames/*.png", False),
        ("0", "camera", "0", True),
        ("camera://1", "camera", "1", True),
        ("v4l2:///dev/video0", "v4l2", "/dev/video0", True),
        ("/dev/video2", "v4l2", "/dev/video2", True),
        ("csi://0", "csi", "0", True),
        ("rtsp://10.0.0.2:8554/cam", "rtsp", "rtsp://10.0.0.2:8554/cam", True),
        ("RTSPS://host/x", "rtsp", "RTSPS://host/x", True),
        ("http://127.0.0.1:8090/stream.mjpg?user=a", "http", "http://127.0.0.1:8090/stream.mjpg?user=a", True),
        ("gst:videotestsrc ! appsink", "gst", "videotestsrc ! appsink", True),
        ("gst://videotestsrc ! appsink", "gst", "videotestsrc ! appsink", True),
    ],
)
def test_parse_source(text: str, kind: str, location: str, live: bool) -> None:
    spec = parse_source(text)
    assert (spec.kind, spec.location, spec.live) == (kind, location, live)
    assert spec.text == text


def test_parse_options() -> None:
    spec = parse_source("v4l2:///dev/video1?width=640&height=480&fps=60&format=yuyv")
    assert spec.options == {"width": 640, "height": 480, "fps": 60, "format": "YUYV"}
    assert parse_source("csi://1?flip=2").options == {"flip": 2}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("foo://bar", "unknown scheme foo://"),
        ("camera://front", "camera number"),
        ("csi://left", "sensor number"),
        ("v4l2://?width=1", "name the device"),
        ("v4l2:///dev/video0?width=wide", "not a whole number"),
        ("v4l2:///dev/video0?zoom=2", "unknown option"),
        ("v4l2:///dev/video0?format=MJPEG", "4-letter"),
        ("gst:", "needs a pipeline"),
        ("  ", "empty source"),
    ],
)
def test_parse_errors_are_one_line(text: str, fragment: str) -> None:
    with pytest.raises(EdgeUnetError) as info:
        parse_source(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_pipelines() -> None:
    pipe = csi_pipeline(1, 1920, 1080, 30, flip=2)
    assert pipe.startswith("nvarguscamerasrc sensor-id=1 ") and "width=1920, height=1080, framerate=30/1" in pipe
    assert "flip-method=2" in pipe and pipe.endswith("appsink drop=true max-buffers=1 sync=false")
    assert gst_pipeline("videotestsrc").endswith("appsink drop=true max-buffers=1 sync=false")
    assert gst_pipeline("videotestsrc ! appsink name=x") == "videotestsrc ! appsink name=x"


def test_gstreamer_detection_matches_build_information() -> None:
    line = next(li for li in cv2.getBuildInformation().splitlines() if li.strip().startswith("GStreamer:"))
    assert opencv_has("GStreamer") == ("YES" in line.upper())
    if opencv_has("GStreamer"):
        require_gstreamer("csi://0")
    else:
        with pytest.raises(EdgeUnetError, match="GStreamer"):
            require_gstreamer("csi://0")


def test_image_folder_skips_corrupt_images(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), np.full((20, 30), 40 * i, np.uint8))
    (tmp_path / "01b.png").write_bytes(b"\x89PNG not really")
    source = open_source(str(tmp_path))
    statuses = [source.read()[0] for _ in range(5)]
    assert statuses == [OK, OK, CORRUPT, OK, END]
    assert source.rewind() and source.read()[0] == OK
    glob_source = open_source(str(tmp_path / "0?.png"))
    assert len(glob_source.files) == 3


def test_video_file_reads_to_the_end(synth_video: Path) -> None:
    source = open_source(str(synth_video))
    assert not source.live and source.fps == pytest.approx(30.0) and source.size == (256, 192)
    count = 0
    while source.read()[0] == OK:
        count += 1
    assert count == 60
    source.close()


def test_missing_path_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="no such file or folder"):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(EdgeUnetError, match="no images"):
        open_source(str(tmp_path))


# -- the source table ----------------------------------------------------------------------------
def test_unknown_scheme_names_the_closest_and_lists_every_source() -> None:
    with pytest.raises(EdgeUnetError) as info:
        parse_source("rstp://10.0.0.2/cam")
    message = str(info.value)
    assert "did you mean rtsp://?" in message and all(kind.usage in message for kind in SOURCES.values())
    with pytest.raises(EdgeUnetError, match="unknown source kind 'ndi'; known: path, images"):
        open_source(SourceSpec("ndi", "x", {}, "ndi://x"))


def test_live_comes_from_the_table() -> None:
    assert {name for name, kind in SOURCES.items() if kind.live} == {"camera", "v4l2", "csi", "rtsp", "http", "gst"}


def test_a_registered_source_is_parsed_and_opened(tmp_path: Path) -> None:
    """What a newcomer's source needs: one row (its own parse is optional). The pipeline takes any `Source`."""
    folder = tmp_path / "f"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((8, 8, 3), np.uint8))

    def open_alias(spec: SourceSpec, fps: Optional[float]) -> Source:
        return open_source(SourceSpec("path", str(folder), {}, spec.text), fps)

    row = register_source(SourceKind("alias", "alias://NAME", open_alias, schemes=("alias",), live=True))
    try:
        spec = parse_source("alias://anything")
        assert spec.kind == "alias" and spec.live and "alias://NAME" in grammar()
        assert open_source(spec).read()[0] == OK
        with pytest.raises(ValueError, match="already registered"):
            register_source(row)
    finally:
        del SOURCES["alias"]


@pytest.mark.parametrize("kind", ["video", "folder", "glob"])
def test_every_source_that_runs_here_keeps_the_contract(kind: str, tmp_path: Path, synth_video: Path) -> None:
    """The shared contract: a `Source`, statuses from the four, END at the end, rewind to the start, close twice."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((24, 32, 3), 50 * i, np.uint8))
    text = {"video": str(synth_video), "folder": str(tmp_path), "glob": str(tmp_path / "*.png")}[kind]
    source = open_source(text)
    assert isinstance(source, Source) and isinstance(source.codec, str) and source.codec
    assert source.size is not None and not source.live
    statuses = []
    while not statuses or statuses[-1] != END:
        status, frame, arrived = source.read()
        statuses.append(status)
        assert status in (OK, END, CORRUPT, LOST) and (frame is not None) == (status == OK) and arrived > 0
    assert statuses.count(OK) >= 3
    assert source.rewind() and source.read()[0] == OK
    source.close()
    source.close()

