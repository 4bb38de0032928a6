"""Checkpoints: atomic writes (serialised in memory: a full disk is an OSError, never torch's RuntimeError), weights_only reads,
and one line for a file that is not ours."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.model.checkpoint import build_model, load_checkpoint, save_checkpoint, spec_of

torch = pytest.importorskip("torch")


def _payload() -> dict:
    from edgeunet.core.spec import ModelSpec
    from edgeunet.model.unet import UNet

    args = {"in_channels": 1, "out_channels": 1, "width": 4, "depth": 2}
    model = UNet(**args)
    return {"model": args, "state_dict": model.state_dict(), "spec": ModelSpec(input_size=[32, 32]).to_dict()}


def test_round_trip_rebuilds_the_model(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "best.pt", _payload())
    payload = load_checkpoint(tmp_path / "best.pt")
    assert spec_of(payload, "best.pt").input_size == [32, 32]
    out = build_model(payload)(torch.zeros(1, 1, 32, 32))
    assert tuple(out.shape) == (1, 1, 32, 32)
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]  # no temp file left


def test_foreign_and_broken_files_are_one_line(tmp_path: Path) -> None:
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(EdgeUnetError, match="not an edgeunet checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a zip")
    with pytest.raises(EdgeUnetError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "broken.pt")
    with pytest.raises(EdgeUnetError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_qat_checkpoint_points_to_its_int8_onnx() -> None:
    with pytest.raises(EdgeUnetError, match="best.int8.onnx"):
        build_model({**_payload(), "qat": {"scheme": "x"}})


def test_a_full_disk_is_an_os_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        save_checkpoint(tmp_path / "best.pt", _payload())
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []
