"""Host (DNS rebinding) and same-origin rules, and the headers every response carries."""

from __future__ import annotations

import pytest

from edgeunet.stream.web_policy import SAME_ORIGIN_HEADER, SECURITY_HEADERS, allowed_hosts, host_allowed, same_origin, split_host


@pytest.mark.parametrize(("header", "bound", "extra", "ok"), [
    (None, "127.0.0.1", (), True), ("127.0.0.1:8080", "127.0.0.1", (), True), ("localhost:8080", "127.0.0.1", (), True),
    ("[::1]:8080", "::1", (), True), ("127.0.0.2", "127.0.0.1", (), True), ("evil.example", "127.0.0.1", (), False),
    ("10.0.0.5:8080", "127.0.0.1", (), False), ("10.0.0.5:8080", "0.0.0.0", (), True), ("cam.lan", "0.0.0.0", ("cam.lan",), True),
    ("CAM.LAN.:80", "0.0.0.0", ("cam.lan",), True), ("rebind.attacker.test", "0.0.0.0", (), False), ("", "127.0.0.1", (), False),
    ("127.0.0.1.evil.example", "127.0.0.1", (), False),
])
def test_host_header(header: str, bound: str, extra: tuple, ok: bool) -> None:
    assert host_allowed(header, bound, allowed_hosts(bound, extra)) is ok


def test_split_host() -> None:
    assert split_host("Example.com:8080") == "example.com" and split_host("[::1]:80") == "::1" and split_host("::1") == "::1"


@pytest.mark.parametrize(("headers", "ok"), [
    ({}, False), ({"Content-Type": "application/x-www-form-urlencoded"}, False),
    ({SAME_ORIGIN_HEADER: "1"}, True), ({SAME_ORIGIN_HEADER: "1", "Sec-Fetch-Site": "same-origin"}, True),
    ({SAME_ORIGIN_HEADER: "1", "Sec-Fetch-Site": "cross-site"}, False), ({SAME_ORIGIN_HEADER: "1", "Sec-Fetch-Site": "same-site"}, False),
    ({SAME_ORIGIN_HEADER: "1", "Origin": "http://127.0.0.1:8080", "Host": "127.0.0.1:8080"}, True),
    ({SAME_ORIGIN_HEADER: "1", "Origin": "http://evil.example", "Host": "127.0.0.1:8080"}, False),
    ({SAME_ORIGIN_HEADER: "1", "Origin": "null", "Host": "127.0.0.1:8080"}, False),
])
def test_same_origin(headers: dict, ok: bool) -> None:
    assert (same_origin(headers) is None) is ok


def test_the_headers_forbid_framing_sniffing_and_referrers() -> None:
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff" and SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"
