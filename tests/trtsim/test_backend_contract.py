"""The TensorRT backend passes the same BackendContract as torch and ONNX Runtime, under the emulator of 8.5, 10.3 and 11.

The engine is built once per version (build-engine's own code, batch profile 1..4) and opened inside the same
emulated TensorRT; after close the emulated device must hold no memory and no pushed context. Protocol only: the
numbers are ONNX Runtime's (DESIGN.md), never an engine's speed or accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from edgeunet.runtime.base import Backend
from tests.trtsim import assert_clean, installed
from tests.trtsim.fixtures import PURGE
from tests.unit.runtime.backend_contract import SIZE, BackendContract, make_checkpoint, make_onnx

VERSIONS = ["8.5", "10.3", "11"]


@pytest.fixture(scope="module")
def contract_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trt-contract")
    return make_onnx(make_checkpoint(folder / "tiny.pt"), folder / "tiny.onnx")


@pytest.fixture(scope="module", params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def engine(version: str, contract_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgeunet.export.build_engine import BuildOptions, build_engine_command

    out = tmp_path_factory.mktemp(f"trt-{version}") / "tiny.engine"
    shape = f"1x{SIZE}x{SIZE}"
    with installed(version, purge=PURGE):
        return build_engine_command(BuildOptions(onnx=contract_onnx, out=out, shapes=f"1x{shape},2x{shape},4x{shape}"),
                                    echo=lambda _line: None)


class TestTensorRTContract(BackendContract):
    name = "tensorrt"
    device = "auto"

    @pytest.fixture(autouse=True)
    def emulator(self, version: str) -> Iterator[Any]:
        with installed(version, purge=PURGE) as trt:
            yield trt

    @pytest.fixture
    def model_path(self, engine: Path) -> Path:
        return engine

    def after_close(self, backend: Backend) -> None:
        assert_clean()  # device memory freed, no CUDA context left pushed
        assert backend.phase_ms == {}


def test_an_engine_of_the_wrong_shape_is_refused_and_freed(engine: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine with two inputs (not an edgeunet model) is one line, and what it had put on the GPU is freed."""
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.runtime.base import load_backend

    with installed(version, purge=PURGE):
        from edgeunet.trt import runner

        class TwoInputs(runner.EngineRunner):
            @property
            def input_names(self) -> list:
                return ["a", "b"]

            @input_names.setter
            def input_names(self, value: list) -> None:
                pass

        monkeypatch.setattr(runner, "EngineRunner", TwoInputs)
        with pytest.raises(EdgeUnetError, match="expected one input and at least one output"):
            load_backend(engine)
        assert_clean()


def test_a_cpu_device_is_refused_before_tensorrt_loads(engine: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.runtime.base import load_backend

    with pytest.raises(EdgeUnetError, match="for the CPU use the .onnx"):
        load_backend(engine, device="cpu")
