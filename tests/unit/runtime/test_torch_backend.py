"""The torch backend: the shared contract on a .pt checkpoint, and its own refusals (fp16 without CUDA, no GPU)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.runtime.base import load_backend
from tests.unit.runtime.backend_contract import BackendContract

pytest.importorskip("torch")


class TestTorchContract(BackendContract):
    name = "torch"

    @pytest.fixture
    def model_path(self, tiny_pt: Path) -> Path:
        return tiny_pt


def test_fp16_needs_cuda(tiny_pt: Path) -> None:
    with pytest.raises(EdgeUnetError, match="needs CUDA"):
        load_backend(tiny_pt, device="cpu", half=True)


def test_cuda_without_a_gpu_is_one_line(tiny_pt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EdgeUnetError, match="sees no CUDA GPU"):
        load_backend(tiny_pt, device="cuda:0")
    with load_backend(tiny_pt) as backend:  # auto: the CPU when there is no GPU
        assert backend.device == "cpu" and backend.precision == "fp32"


def test_threads_set_torch_intra_op_threads(tiny_pt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    seen: List[int] = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    load_backend(tiny_pt, device="cpu", threads=2).close()
    load_backend(tiny_pt, device="cpu").close()
    assert seen == [2]


def test_not_a_checkpoint_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(EdgeUnetError, match="not a readable PyTorch checkpoint"):
        load_backend(bad)
