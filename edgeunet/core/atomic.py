"""Write-then-rename, so that a crash, SIGKILL or Ctrl-C never leaves a half-written file; and the hashes that
prove later that a file is the one that was written.

Only regular files are ever replaced: a rename over a symlink, a device (/dev/null, /dev/stdout), a FIFO
or a socket would swap that special file for an ordinary one (as root in a container, /dev/null itself),
so such a target is refused with one line. `-` is the one way to write to standard output on purpose
(atomic_write_bytes/atomic_write_text and write_json accept it; the bytes go through unbuffered).
A write that comes out shorter than asked (a full disk that did not raise) fails as loudly as one that raised.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import sys
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


STDOUT = "-"


def check_replaceable(target: Path | str) -> None:
    """Refuse a target that exists and is not a regular file (symlink, device, FIFO, socket, folder)."""
    path = Path(target)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise EdgeUnetError(f"{path} is {kind}; edgeunet replaces only regular files (give a new file name, or - for standard output "
                        "where the option allows it)")


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target` in one rename.

    The temporary file lives in the same folder so that the rename is atomic on POSIX and Windows.
    On any exception the temporary file is removed and `target` is untouched.
    """
    if str(target) == STDOUT:
        raise EdgeUnetError("- (standard output) is not possible for this file; give a file name")
    target = Path(target)
    check_replaceable(target)
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
    """`data` whole at `target` (or on standard output for `-`), checked by size before the rename."""
    if str(target) == STDOUT:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # a full disk shows up here at the latest, not after the rename
        verify_size(tmp, len(data))


def atomic_write_text(target: Path | str, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def verify_size(path: Path | str, expected: int) -> None:
    """Raise ENOSPC-like OSError when `path` holds fewer bytes than were written (never claim a short file)."""
    size = os.stat(path).st_size
    if size != expected:
        raise OSError(errno.EIO, f"wrote {size} of {expected} bytes", str(path))


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
    if target.is_symlink() or target.exists() and (not target.is_dir() or any(target.iterdir())):
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


@contextlib.contextmanager
def fresh_output(path: Path | str, keep: str = "") -> Iterator[Path]:
    """A command's output folder that is removed again when the command fails with an OSError (a full disk, ...).

    Only a folder this command created is removed, and not when it already holds `keep` (e.g. a run's
    last.pt, from which `--resume` continues): a failed command leaves nothing half-made behind.
    """
    path = Path(path)
    created = not path.exists()
    try:
        yield path
    except OSError:
        if created and not (keep and (path / keep).exists()):
            shutil.rmtree(path, ignore_errors=True)
        raise
