"""trt/selftest.py: `doctor --selftest`'s TensorRT half (build, run, time) against the emulated TensorRT/pycuda.

Latencies here are the emulator's (ONNX Runtime on the CPU), never a GPU figure: only their count is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from tests.trtsim import assert_clean, configure_gpu, installed, live_allocations, state
from tests.trtsim import models as M
from tests.trtsim.fixtures import PURGE
from tests.trtsim.test_edgeunet_trt import reference, write_onnx


@pytest.fixture(params=["8.5", "10.3", "11"])
def trt(request: pytest.FixtureRequest) -> Iterator[Any]:
    with installed(request.param, purge=PURGE) as module:
        yield module


def test_builds_runs_and_reports(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.selftest import build_and_run

    configure_gpu("Jetson AGX Orin", (8, 7))
    path = write_onnx(tmp_path, M.conv_relu(batch=1, channels=3, size=16))
    x = np.random.RandomState(1).rand(1, 3, 16, 16).astype(np.float32)
    result = build_and_run(path, {"input": x}, runs=4, warmup=2)
    np.testing.assert_allclose(result.outputs["logits"], reference(path, x), rtol=1e-6, atol=1e-6)
    assert (result.tensorrt_version, result.gpu_name, result.compute_capability) == (trt.__version__, "Jetson AGX Orin", (8, 7))
    assert len(result.latencies_ms) == 4 and all(ms >= 0 for ms in result.latencies_ms)
    assert result.engine_bytes > 0 and result.build_seconds >= 0
    assert state().executions == 1 + 2 + 4  # the checked run, the warm-up, the timed runs
    assert not live_allocations()
    assert_clean()


def test_no_timed_runs(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.selftest import build_and_run

    result = build_and_run(write_onnx(tmp_path, M.conv_relu(batch=1)), {"input": np.zeros((1, 1, 8, 8), np.float32)}, runs=0, warmup=0)
    assert result.latencies_ms == [] and state().executions == 1


def test_a_failed_run_still_frees_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with installed("10.3", purge=PURGE) as trt:
        from edgeunet.trt.selftest import build_and_run

        calls = []
        monkeypatch.setattr(trt.IExecutionContext, "execute_async_v3", lambda self, handle: calls.append(handle) or len(calls) < 3)
        with pytest.raises(EdgeUnetError, match="failed to run the engine"):
            build_and_run(write_onnx(tmp_path, M.conv_relu(batch=1)), {"input": np.zeros((1, 1, 8, 8), np.float32)}, runs=5, warmup=1)
        assert len(calls) == 3 and not live_allocations()
        assert_clean()


def test_missing_pycuda_stops_before_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with installed("10.3", purge=PURGE):
        from edgeunet.trt import selftest

        monkeypatch.setattr("edgeunet.trt.pycuda_version", lambda: None)
        with pytest.raises(MissingDependencyError, match="pycuda not found"):
            selftest.build_and_run(write_onnx(tmp_path, M.conv_relu(batch=1)), {"input": np.zeros((1, 1, 8, 8), np.float32)})
        assert state().builders_created == 0


def test_missing_tensorrt_is_exit_3(tmp_path: Path) -> None:
    from edgeunet.trt.selftest import build_and_run

    with pytest.raises(MissingDependencyError, match="TensorRT not found"):
        build_and_run(tmp_path / "never-read.onnx", {"input": np.zeros((1, 1, 8, 8), np.float32)})
