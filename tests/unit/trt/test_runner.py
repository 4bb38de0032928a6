"""trt/runner.py: deserialize once, infer by tensor name, free everything on close; against the emulated TensorRT.

Results come from ONNX Runtime inside the emulator: what passes here is API use and buffer handling, never speed
or engine accuracy (tests/trtsim/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import onnx
import pytest

from edgeunet.core.errors import EdgeUnetError
from tests.trtsim import assert_clean, configure_gpu, installed, live_allocations, state
from tests.trtsim import models as M
from tests.trtsim.fixtures import PURGE
from tests.trtsim.test_edgeunet_trt import build, reference, write_onnx


@pytest.fixture(params=["8.6", "10.3", "11"])
def trt(request: pytest.FixtureRequest) -> Iterator[Any]:
    with installed(request.param, purge=PURGE) as module:
        yield module


def test_numpy_dtype_names() -> None:
    from edgeunet.trt.runner import numpy_dtype

    assert numpy_dtype("HALF") is np.float16 and numpy_dtype("UINT8") is np.uint8 and numpy_dtype("BOOL") is np.bool_
    with pytest.raises(EdgeUnetError, match="^engine tensor type BF16 is not supported .*float or uint8 I/O$"):
        numpy_dtype("BF16")


def test_infer_by_name_reuses_buffers_until_the_shape_changes(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.plan import parse_shapes
    from edgeunet.trt.runner import EngineRunner

    path = write_onnx(tmp_path, M.conv_relu())
    runner = EngineRunner(build(trt, path, requested=parse_shapes("1x1x8x8,2x1x8x8,2x1x8x8")).plan_bytes, "m.engine")
    assert runner.input_names == ["input"] and runner.output_names == ["logits"]
    assert runner.input_shapes == {"input": (-1, 1, 8, 8)}  # -1: the dynamic batch
    x = np.random.RandomState(0).randn(1, 1, 8, 8)  # float64: converted to the engine's float32
    out = runner.infer({"input": x})["logits"]
    np.testing.assert_allclose(out, reference(path, x.astype(np.float32)), rtol=1e-6, atol=1e-6)
    assert out.dtype == np.float32 and set(runner.phase_ms) == {"h2d", "compute", "d2h"}
    allocated, kept = state().allocations, out.copy()
    runner.infer({"input": -x})
    assert state().allocations == allocated  # same shape: no new buffers
    np.testing.assert_array_equal(out, kept)  # a result is a copy, not the pinned buffer the next inference overwrites
    assert runner.infer({"input": np.zeros((2, 1, 8, 8), np.float32)})["logits"].shape == (2, 2, 8, 8)
    assert state().allocations > allocated
    runner.close()
    runner.close()
    assert not live_allocations() and not hasattr(runner, "engine")
    assert_clean()
    with pytest.raises(EdgeUnetError, match="^m.engine: the engine was closed; open it again$"):
        runner.infer({"input": x})


def test_uint8_input_engine(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.runner import EngineRunner

    runner = EngineRunner(build(trt, write_onnx(tmp_path, M.uint8_cast(onnx.TensorProto.FLOAT)), shape=(1, 4, 4, 1)).plan_bytes)
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    out = runner.infer({"input": x})["out"]
    assert out.dtype == np.float32 and np.array_equal(out, x.astype(np.float32))
    runner.close()


def test_unloadable_blob_is_one_line_and_frees_nothing_twice(trt: Any) -> None:
    from edgeunet.trt.runner import EngineRunner

    with pytest.raises(EdgeUnetError, match=r"^cam\.engine: TensorRT could not load this engine \(corrupt, or built by another version\); rebuild it$"):
        EngineRunner(b"not an engine", "cam.engine")
    assert not live_allocations()
    assert_clean()


def test_dla_core_reaches_the_runtime(tmp_path: Path) -> None:
    with installed("10.3", purge=PURGE) as trt:
        from edgeunet.trt.runner import EngineRunner

        configure_gpu(dla_cores=2)
        blob = build(trt, write_onnx(tmp_path, M.conv_relu(batch=1)), fp16=True, dla_core=1).plan_bytes
        EngineRunner(blob).close()
        EngineRunner(blob, dla_core=1).close()
        assert state().engine_dla_cores == [0, 1]  # unset runs on core 0: the sidecar's core must be passed


def test_runtime_info(trt: Any) -> None:
    from edgeunet.trt.runner import runtime_info

    configure_gpu("Jetson Orin Nano", (8, 7))
    assert runtime_info() == (trt.__version__, "Jetson Orin Nano", (8, 7))
