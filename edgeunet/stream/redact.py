"""One `redact_uri` for every place a source or sink address is shown: logs, HUD, stats JSON, the web page.

Why one function: a camera URL such as rtsp://admin:pass@10.0.0.5/live carries a password, and each
place that prints the address by its own rule is a place that eventually leaks it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_KEYS = ("token", "password", "passwd", "pass", "pwd", "secret", "key", "apikey", "api_key", "auth", "signature", "sig")
MASK = "***"
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/@]*)@")


def redact_uri(text: str) -> str:
    """`rtsp://user:secret@host/x?token=t` -> `rtsp://user:***@host/x?token=***`; text without secrets comes back unchanged."""
    raw = str(text)
    match = _USERINFO.match(raw)
    if match:
        user, sep, _password = match.group(2).partition(":")
        raw = f"{match.group(1)}{user}{':' + MASK if sep else ''}@{raw[match.end():]}"
    if "?" not in raw or "://" not in raw:
        return raw
    try:
        parts = urlsplit(raw)
    except ValueError:
        return raw.split("?", 1)[0] + "?" + MASK
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key.lower() in SECRET_KEYS for key, _ in pairs):
        return raw
    query = urlencode([(key, MASK if key.lower() in SECRET_KEYS else value) for key, value in pairs], safe="*")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
