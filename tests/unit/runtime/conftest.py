"""A tiny untrained checkpoint and its dynamic-batch ONNX, shared by the runtime tests (made once, in seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.runtime.backend_contract import make_checkpoint, make_onnx


@pytest.fixture(scope="session")
def tiny_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("runtime") / "tiny.pt")


@pytest.fixture(scope="session")
def tiny_dyn_onnx(tmp_path_factory: pytest.TempPathFactory, tiny_pt: Path) -> Path:
    return make_onnx(tiny_pt, tmp_path_factory.mktemp("runtime-onnx") / "tiny.onnx")
