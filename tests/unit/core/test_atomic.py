from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.atomic import atomic_dir, atomic_path, atomic_write_text
from edgeunet.core.errors import EdgeUnetError


def test_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_success_replaces(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "new"


def test_atomic_dir_refuses_to_replace_user_files(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("precious")
    with pytest.raises(EdgeUnetError, match="not an empty folder"), atomic_dir(tmp_path / "out"):
        pass
    assert (tmp_path / "out" / "mine.txt").read_text() == "precious"


@pytest.mark.parametrize("kind", ["symlink", "fifo", "device", "folder", "socket"])
def test_special_targets_are_refused_and_left_alone(tmp_path: Path, kind: str) -> None:
    import os
    import socket

    from edgeunet.core.atomic import atomic_write_text, write_json

    target = tmp_path / "stats.json"
    if kind == "symlink":
        (tmp_path / "real.json").write_text("keep")
        target.symlink_to(tmp_path / "real.json")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        target = Path("/dev/null")
    elif kind == "folder":
        target.mkdir()
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    with pytest.raises(EdgeUnetError, match="replaces only regular files"):
        atomic_write_text(target, "x")
    with pytest.raises(EdgeUnetError, match="replaces only regular files"):
        write_json(target, {"a": 1})
    if kind == "symlink":
        assert target.is_symlink() and (tmp_path / "real.json").read_text() == "keep"
    assert Path("/dev/null").is_char_device()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_dash_writes_to_standard_output(capfdbinary: pytest.CaptureFixture) -> None:
    from edgeunet.core.atomic import write_json

    write_json("-", {"a": 1})
    assert capfdbinary.readouterr().out == b'{\n  "a": 1\n}\n'


def test_a_full_disk_raises_and_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from edgeunet.core.atomic import atomic_write_bytes

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(tmp_path / "out.bin", b"x" * 1000)
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []


def test_a_short_write_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core import atomic

    real = atomic.verify_size
    monkeypatch.setattr(atomic, "verify_size", lambda path, expected: real(path, expected + 1))
    with pytest.raises(OSError, match="wrote 3 of 4 bytes"):
        atomic.atomic_write_bytes(tmp_path / "out.bin", b"abc")
    assert list(tmp_path.iterdir()) == []
