"""runtime/trt_backend.py: the order of checks when opening an engine, and running it, against the emulated TensorRT.

Order matters: sidecar and sha256 first (any machine), then TensorRT/pycuda, then version and GPU against the
sidecar, only then deserialize. Numbers are ONNX Runtime's inside the emulator, never an engine's (DESIGN.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from tests.trtsim import assert_clean, configure_gpu, installed, state
from tests.trtsim.fixtures import PURGE

SIZE = 32


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, tiny_dyn_onnx: Path) -> Path:
    from edgeunet.export.build_engine import BuildOptions, build_engine_command

    out = tmp_path_factory.mktemp("trt-backend") / "tiny.engine"
    with installed("10.3", purge=PURGE):
        return build_engine_command(BuildOptions(onnx=tiny_dyn_onnx, out=out, shapes=f"1x1x{SIZE}x{SIZE},2x1x{SIZE}x{SIZE},2x1x{SIZE}x{SIZE}"),
                                    echo=lambda _line: None)


@pytest.fixture
def trt() -> Iterator[Any]:
    with installed("10.3", purge=PURGE) as module:
        yield module


def test_opens_runs_and_closes(trt: Any, engine: Path) -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend

    backend = TensorRTBackend(engine)
    assert backend.name == "tensorrt" and backend.precision == "fp32" and backend.device == "cuda:0 (NVIDIA Emulated GPU)"
    assert backend.spec.input_size == [SIZE, SIZE] and backend.input_shape == [-1, 1, -1, -1]  # dynamic ONNX: -1 stays visible
    out = backend.run(np.zeros((2, 1, SIZE, SIZE), np.float32))
    assert out.shape[0] == 2 and set(backend.phase_ms) == {"h2d", "compute", "d2h"}
    backend.close()
    assert backend.phase_ms == {}
    assert_clean()


def test_device_names_that_mean_the_gpu(trt: Any, engine: Path) -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend

    for device in ("cuda", "cuda:0", "gpu", "tensorrt"):
        TensorRTBackend(engine, device=device, threads=2).close()  # unknown keyword options are ignored
    with pytest.raises(EdgeUnetError, match=r"^--device cuda:1: a TensorRT engine runs on the GPU it was built for"):
        TensorRTBackend(engine, device="cuda:1")


def test_truncated_engine_is_refused_before_tensorrt_is_needed(engine: Path, tmp_path: Path) -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend
    from edgeunet.trt.sidecar import sidecar_path

    copy = tmp_path / engine.name
    copy.write_bytes(engine.read_bytes()[:100])
    sidecar_path(copy).write_bytes(sidecar_path(engine).read_bytes())
    with pytest.raises(EdgeUnetError, match="truncated"):
        TensorRTBackend(copy)  # no emulator installed: the sha256 check comes first
    with pytest.raises(MissingDependencyError, match="TensorRT not found"):
        TensorRTBackend(engine)  # intact engine, no TensorRT here: exit 3 with the install step


def test_another_gpu_is_refused_before_deserializing(trt: Any, engine: Path) -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend

    configure_gpu("NVIDIA H100", (9, 0))
    with pytest.raises(EdgeUnetError, match=r"this machine: NVIDIA H100 sm 9\.0.*rebuild"):
        TensorRTBackend(engine)
    assert state().engines_loaded == 0 and state().runtimes_created == 0


def test_an_output_named_overlay_counts_only_for_an_end_to_end_model(trt: Any, engine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A logits engine whose graph happens to name an output 'overlay' is not taken for an end-to-end model's picture."""
    from edgeunet.runtime.trt_backend import TensorRTBackend
    from edgeunet.trt import runner as runner_module

    class NamedOverlay(runner_module.EngineRunner):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.output_names = [*self.output_names, "overlay"]

        def infer(self, inputs: Any) -> Any:
            return {**super().infer(inputs), "overlay": np.zeros((1, 2, 2, 3), np.uint8)}

    monkeypatch.setattr(runner_module, "EngineRunner", NamedOverlay)
    with TensorRTBackend(engine) as backend:
        mask, view = backend.run_with_overlay(np.zeros((1, 1, SIZE, SIZE), np.float32))
    assert view is None and mask.shape[0] == 1
