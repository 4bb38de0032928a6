"""Checkpoints are serialised in memory and written atomically: a full disk is an OSError, never torch's RuntimeError."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

pytest.importorskip("torch")

from edgeunet.core.spec import ModelSpec  # noqa: E402
from edgeunet.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402


def test_round_trip(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "best.pt", {"spec": ModelSpec().to_dict(), "epoch": 3})
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 3


def test_a_full_disk_is_an_os_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        save_checkpoint(tmp_path / "best.pt", {"spec": ModelSpec().to_dict()})
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []
