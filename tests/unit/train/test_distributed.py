"""torchrun's environment and device names: one process without it, one-line errors for a wrong --device."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.train.distributed import Distributed, resolve_device  # noqa: E402


def test_without_torchrun_it_is_one_main_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    dist = Distributed.from_env()
    assert not dist.enabled and dist.is_main
    values = np.array([1.0, 2.0])
    assert dist.sum(values) is values


def test_torchrun_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    dist = Distributed.from_env()
    assert dist.enabled and not dist.is_main and dist.local_rank == 1


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(EdgeUnetError, match="expected auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(EdgeUnetError, match="no CUDA GPU"):
            resolve_device("cuda:0")
