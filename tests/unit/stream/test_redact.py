"""redact_text / redact_uri: passwords and tokens never leave as typed, parsed as FFmpeg and GStreamer parse URLs."""

from __future__ import annotations

import pytest

from edgeunet.stream.redact import redact_text, redact_uri, secret_key
from edgeunet.stream.sources import parse_source


@pytest.mark.parametrize(("text", "shown"), [
    ("rtsp://user:secret@10.0.0.2:554/live", "rtsp://user:***@10.0.0.2:554/live"),
    ("http://admin:p%40ss@cam/stream.mjpg", "http://admin:***@cam/stream.mjpg"),
    ("rtsp://user@cam/x", "rtsp://user@cam/x"),
    ("http://cam/x?token=abc&fps=5", "http://cam/x?token=***&fps=5"),
    ("video.mp4", "video.mp4"),
    ("v4l2:///dev/video0?width=640", "v4l2:///dev/video0?width=640"),
    # the last '@' ends the userinfo (FFmpeg av_url_split, GStreamer gst_uri_from_string)
    ("rtsp://admin:p@ss@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live"),
    ("rtsp://admin:a@b@c:d@cam:554/x?y=1", "rtsp://admin:***@cam:554/x?y=1"),
    # credential-like keys beyond a fixed list
    ("https://s3/x.mp4?X-Amz-Signature=abc&X-Amz-Credential=AK/1&w=2", "https://s3/x.mp4?X-Amz-Signature=***&X-Amz-Credential=***&w=2"),
    ("http://cam/x?access_token=a&apiKey=b&passphrase=c&sessionid=d&pw=e", "http://cam/x?access_token=***&apiKey=***&passphrase=***&sessionid=***&pw=***"),
    ("http://cam/x?fps=5#frag", "http://cam/x?fps=5#frag"),
])
def test_redact_uri(text: str, shown: str) -> None:
    assert redact_uri(text) == shown


@pytest.mark.parametrize(("text", "secret"), [
    ("output rtsp://edgeunet:hunter2@0.0.0.0:8554/x failed: bind", "hunter2"),
    ("cannot open gst:rtspsrc location=rtsp://u:pa@ss@cam/ user-pw=s3cr3t ! decodebin", "s3cr3t"),
    ("cannot open gst:rtspsrc location=rtsp://u:pa@ss@cam/ ! decodebin", "pa@ss"),
    ('{"source": "http://cam/x?my_custom_token=zzz9"}', "zzz9"),
    ("header Authorization: Bearer abcdef123456", "abcdef123456"),
])
def test_secrets_in_any_message_are_masked(text: str, secret: str) -> None:
    shown = redact_text(text)
    assert secret not in shown and "***" in shown


@pytest.mark.parametrize("key", ["passthrough", "key-int-max", "keyframe", "width", "fps", "codec", "location"])
def test_harmless_keys_stay(key: str) -> None:
    assert not secret_key(key)


def test_a_parsed_source_shows_no_password_but_opens_with_it() -> None:
    spec = parse_source("rtsp://user:p@ss@10.0.0.2/live")
    assert spec.text == "rtsp://user:***@10.0.0.2/live" and "p@ss" in spec.location
