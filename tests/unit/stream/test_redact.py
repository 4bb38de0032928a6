"""redact_uri: passwords and tokens never leave as typed."""

from __future__ import annotations

import pytest

from edgeunet.stream.redact import redact_uri
from edgeunet.stream.sources import parse_source


@pytest.mark.parametrize(("text", "shown"), [
    ("rtsp://user:secret@10.0.0.2:554/live", "rtsp://user:***@10.0.0.2:554/live"),
    ("http://admin:p%40ss@cam/stream.mjpg", "http://admin:***@cam/stream.mjpg"),
    ("rtsp://user@cam/x", "rtsp://user@cam/x"),
    ("http://cam/x?token=abc&fps=5", "http://cam/x?token=***&fps=5"),
    ("video.mp4", "video.mp4"),
    ("v4l2:///dev/video0?width=640", "v4l2:///dev/video0?width=640"),
])
def test_redact_uri(text: str, shown: str) -> None:
    assert redact_uri(text) == shown


def test_a_parsed_source_shows_no_password_but_opens_with_it() -> None:
    spec = parse_source("rtsp://user:secret@10.0.0.2/live")
    assert spec.text == "rtsp://user:***@10.0.0.2/live" and "secret" in spec.location
