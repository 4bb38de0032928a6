"""Issue 23's fixes in edgeunet/trt, each pinned by a test that failed on the code before them (the comment says how).

Timing cache that is not a cache, FP16 beside INT8 on weakly typed versions, stream/event/pinned-buffer lifetimes.
The TensorRT version in the calibration manifest is tested in tests/unit/trt/test_calibration.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trtsim import live_allocations, state
from tests.trtsim import models as M
from tests.trtsim import plan as sim_plan
from tests.trtsim.test_edgeunet_trt import build, reference, write_onnx


# before: create_timing_cache(b"garbage") is None and set_timing_cache(None, False) raised TypeError (build failed)
@pytest.mark.parametrize("trt", ["8.5", "10.3"], indirect=True)
def test_damaged_timing_cache_starts_a_new_one(trt: Any, tmp_path: Path) -> None:
    built = build(trt, write_onnx(tmp_path, M.conv_relu(batch=1)), timing_cache=b"\x00garbage")
    assert built.plan_bytes and built.timing_cache.startswith(b"TRTSIMTC")
    assert built.notes == ["the --timing-cache file is not a timing cache (damaged?); building with a new one"]
    assert state().timing_cache == ["corrupt", "created-empty", "set-accepted"]


# before: an INT8 engine on 8.5/10.x had the INT8 flag only, so layers outside Q/DQ pairs ran in FP32
@pytest.mark.parametrize("trt", ["8.5", "10.3", "11"], indirect=True)
def test_int8_engine_gets_fp16_beside_it_unless_int8_only(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.build import build_engine
    from edgeunet.trt.plan import parse_version, plan_build

    path = write_onnx(tmp_path, M.qdq())
    version = parse_version(trt.__version__)
    for int8_fp16 in (True, False):
        built, _ = build_engine(path, plan_build(version, "int8", int8=True, int8_fp16=int8_fp16), (1, 1, 4, 4))
        header, _ = sim_plan.deserialize(built.plan_bytes)
        if version[0] >= 11:  # strongly typed: no precision flags at all
            assert header.flags == [] and header.strongly_typed
        else:
            assert header.flags == (["FP16", "INT8"] if int8_fp16 else ["INT8"]) and header.int8 == "qdq"


# before: runtime_info() made a CUDA stream on every call (pycuda frees it only when collected)
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runtime_info_makes_no_stream(trt: Any) -> None:
    from edgeunet.trt.runner import runtime_info

    for _ in range(3):
        assert runtime_info() == ("10.3.0", "NVIDIA Emulated GPU", (8, 7))
    assert state().streams_created == 0


# before: 4 CUDA events per inference (12 after 3 runs), and pinned + device buffers reallocated on every batch change
@pytest.mark.parametrize("trt", ["8.5", "10.3"], indirect=True)
def test_runner_reuses_events_and_buffers(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.plan import parse_shapes
    from edgeunet.trt.runner import EngineRunner

    path = write_onnx(tmp_path, M.conv_relu())
    runner = EngineRunner(build(trt, path, requested=parse_shapes("1x1x8x8,2x1x8x8,4x1x8x8")).plan_bytes)
    try:
        for batch in (4, 1, 2, 4, 3):
            x = np.random.RandomState(batch).randn(batch, 1, 8, 8).astype(np.float32)
            out = runner.infer({"input": x})["logits"]
            assert out.shape == (batch, 2, 8, 8)
            np.testing.assert_allclose(out, reference(path, x), rtol=1e-6, atol=1e-6)
            assert set(runner.phase_ms) == {"h2d", "compute", "d2h"} and min(runner.phase_ms.values()) >= 0.0
        assert [b.shape for b in runner.bindings] == [(3, 1, 8, 8), (3, 2, 8, 8)]
        assert state().events_created == 4 and state().streams_created == 1
        assert state().pinned_buffers == 2 and state().allocations == 2 and state().frees == 0  # sized by the first (largest) batch
        y = np.random.RandomState(9).randn(4, 1, 8, 8).astype(np.float32)
        first = runner.infer({"input": y})["logits"]
        first_copy = first.copy()
        runner.infer({"input": np.zeros((4, 1, 8, 8), np.float32)})
        np.testing.assert_array_equal(first, first_copy)  # results are copies, not views of the reused pinned buffer
    finally:
        runner.close()
    assert live_allocations() == []


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_growing_batch_reallocates_once(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.plan import parse_shapes
    from edgeunet.trt.runner import EngineRunner

    path = write_onnx(tmp_path, M.conv_relu())
    runner = EngineRunner(build(trt, path, requested=parse_shapes("1x1x8x8,2x1x8x8,4x1x8x8")).plan_bytes)
    try:
        for batch in (1, 4, 4, 2):
            x = np.full((batch, 1, 8, 8), float(batch), np.float32)
            np.testing.assert_allclose(runner.infer({"input": x})["logits"], reference(path, x), rtol=1e-6, atol=1e-6)
        assert state().pinned_buffers == 4 and state().frees == 2 and len(live_allocations()) == 2
    finally:
        runner.close()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_inputs_are_converted_to_the_engines_type(trt: Any, tmp_path: Path) -> None:
    from onnx import TensorProto

    from edgeunet.trt.runner import EngineRunner

    runner = EngineRunner(build(trt, write_onnx(tmp_path, M.uint8_cast(TensorProto.FLOAT)), shape=(1, 4, 4, 1)).plan_bytes)
    try:
        out = runner.infer({"input": np.full((1, 4, 4, 1), 3.0)})["out"]  # float64 in, the engine takes uint8
        assert out.dtype == np.float32 and np.array_equal(out, np.full((1, 4, 4, 1), 3.0, np.float32))
    finally:
        runner.close()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_one_inference_is_one_stream_of_copies_run_copies_and_four_marks(trt: Any, tmp_path: Path) -> None:
    """docs/TENSORRT.md "CUDA buffers": async H2D -> execute_async_v3 -> async D2H on the session's stream, one synchronize;
    phase times are the virtual device clock between the marks (tests/trtsim/cuda.py), so they are exact here."""
    from edgeunet.trt.runner import EngineRunner
    from tests.trtsim import cuda as sim

    runner = EngineRunner(build(trt, write_onnx(tmp_path, M.conv_relu(batch=1))).plan_bytes)
    try:
        runner.infer({"input": np.zeros((1, 1, 8, 8), np.float32)})
        assert state().stream_ops == ["event_record", "memcpy_htod_async", "event_record", "execute_async_v3", "event_record",
                                      "memcpy_dtoh_async", "event_record"]
        assert set(state().op_streams) == {runner.session.stream_handle} and not sim.pending_work()
        assert runner.phase_ms == {"h2d": pytest.approx(sim.copy_ms(256)), "compute": pytest.approx(sim.EXECUTE_MS),
                                   "d2h": pytest.approx(sim.copy_ms(512))}
    finally:
        runner.close()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runner_messages(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onnx import TensorProto, helper

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.runner import EngineRunner
    from tests.trtsim.test_emulator import build as raw_build

    a, b = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("input", "other"))
    graph = helper.make_graph([helper.make_node("Add", ["input", "other"], ["out"])], "two", [a, b],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    runner = EngineRunner(raw_build(trt, model) or b"", "two.engine")
    with pytest.raises(EdgeUnetError, match=r"^engine inputs missing: input, other$"):
        runner.infer({})
    monkeypatch.setattr(runner, "context", type("Refuses", (), {
        "set_input_shape": lambda *_: True, "set_tensor_address": lambda *_: True, "execute_async_v3": lambda *_: False,
        "get_tensor_shape": lambda self, name: (1, 4)})())
    with pytest.raises(EdgeUnetError, match=r"^TensorRT failed to run the engine \(see its log above\)$"):
        runner.infer({"input": np.zeros((1, 4), np.float32), "other": np.zeros((1, 4), np.float32)})
    runner.close()
    with pytest.raises(EdgeUnetError, match=r"^two.engine: the engine was closed; open it again$"):
        runner.infer({})
