"""Who may watch a network output (web://, mjpeg://, rtsp://): loopback is open, anything else needs a token.

Why one module: the web view and the RTSP server must follow the same rule ("secure by default"), and a
rule written twice drifts. The token itself is checked by each server in its own protocol (HTTP bearer or
?token= for web://, RTSP basic auth for rtsp://); what is shared is when it is required and how it is made.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Optional

from edgeunet.core.errors import EdgeUnetError

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


def token_from_file(path: Path, log: Optional[Callable[[str], None]] = None) -> str:
    """The token kept in `path` (mode 600); made once with `new_token` when the file does not exist yet.

    Why a file: a token given as --token is readable by every local user in the process list, and one
    regenerated on every restart ends up in the journal each time. The file is created with O_EXCL and
    mode 600 (never widened later), and a file that others may read is refused, like ssh refuses a key.
    """
    path = Path(path).expanduser()
    if not path.exists():
        token = new_token()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            return token_from_file(path, log)  # another process made it first: use theirs
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        if log is not None:
            log(f"made a new token in {path} (mode 600); it stays the same on every restart")
        return token
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise EdgeUnetError(f"--token-file {path}: not a regular file")
    if info.st_mode & 0o077:
        raise EdgeUnetError(f"--token-file {path}: readable by others (mode {info.st_mode & 0o777:o}); run: chmod 600 {path}")
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < MIN_TOKEN_CHARS or any(not ch.isprintable() or ch.isspace() for ch in token):
        raise EdgeUnetError(f"--token-file {path}: holds no usable token (one line, at least {MIN_TOKEN_CHARS} characters, no spaces)")
    return token


def source_from(value: str) -> str:
    """SOURCE as given, or read from where it says: `env:NAME` (an environment variable) or `@PATH` (a file's first line).

    Why: a camera URL with a password on the command line is in the process list for every local user.
    """
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name, "").strip()
        if not found:
            raise EdgeUnetError(f"SOURCE {value}: the environment variable {name} is empty or not set")
        return found
    if value.startswith("@") and len(value) > 1:
        path = Path(value[1:]).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise EdgeUnetError(f"SOURCE {value}: cannot read {path} ({exc.strerror or exc})") from None
        if not lines or not lines[0].strip():
            raise EdgeUnetError(f"SOURCE {value}: {path} is empty; put the camera URL on its first line")
        return lines[0].strip()
    return value
