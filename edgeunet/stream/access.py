"""Who may watch a network output (web://, mjpeg://, rtsp://): loopback is open, anything else needs a token.

Why one module: the web view and the RTSP server must follow the same rule ("secure by default"), and a
rule written twice drifts. The token itself is checked by each server in its own protocol (HTTP bearer or
?token= for web://, RTSP basic auth for rtsp://); what is shared is when it is required and how it is made.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from typing import Optional

ASSUME_REMOTE_ENV = "EDGEUNET_WEB_ASSUME_REMOTE"  # tests: act as if bound beyond loopback (stricter only)
MIN_TOKEN_CHARS = 8


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost': the only addresses that need no token."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def token_required(host: str, override: Optional[bool] = None) -> bool:
    """A token is needed beyond loopback (or when `override` / EDGEUNET_WEB_ASSUME_REMOTE=1 says so)."""
    required = override if override is not None else not is_loopback(host)
    return required or os.environ.get(ASSUME_REMOTE_ENV) == "1"


def new_token() -> str:
    """A random URL-safe token (32 characters), printed once by the sink that made it."""
    return secrets.token_urlsafe(24)
