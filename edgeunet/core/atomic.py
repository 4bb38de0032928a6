"""Write-then-rename, so that a crash, SIGKILL or Ctrl-C never leaves a half-written file; and the hashes that
prove later that a file is the one that was written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from edgeunet.core.errors import EdgeUnetError


def ensure_writable_dir(path: Path, what: str = "output folder") -> Path:
    """Create `path` (and parents) or raise a one-line error saying why it cannot be used."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeUnetError(f"cannot create {what} {path}: {exc.strerror or exc}; choose a writable location") from None
    if not os.access(path, os.W_OK):
        raise EdgeUnetError(f"{what} {path} is not writable; choose a writable location")
    return path


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target` in one rename.

    The temporary file lives in the same folder so that the rename is atomic on POSIX and Windows.
    On any exception the temporary file is removed and `target` is untouched.
    """
    target = Path(target)
    ensure_writable_dir(target.parent if str(target.parent) else Path("."))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: Path | str, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path | str, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_text(data: Any, sort_keys: bool = False) -> str:
    """The one JSON layout of every file edgeunet writes (reports, stats, manifests, sidecars): indented, newline-ended."""
    return json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n"


def write_json(target: Path | str, data: Any, sort_keys: bool = False) -> None:
    atomic_write_text(target, json_text(data, sort_keys=sort_keys))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed (engines and checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_dir(target: Path | str) -> Iterator[Path]:
    """Like atomic_path for a whole folder: build it under a temporary name, then rename it into place."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise EdgeUnetError(f"{target} already exists and is not an empty folder; choose a new output folder")
    ensure_writable_dir(target.parent if str(target.parent) else Path("."))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent or "."))
    try:
        yield tmp
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
