"""The failure paths of edgeunet/trt under the emulator: each TensorRT/CUDA failure is one EdgeUnetError line.

Rules exercised: the parser's refusals, a build that returns None, profile and DLA checks, calibration that
breaks in each callback, engines that do not load, a runner that cannot run, pycuda/TensorRT that do not import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trtsim import configure_gpu, installed, state
from tests.trtsim import models as M
from tests.trtsim.fixtures import PURGE
from tests.trtsim.test_edgeunet_trt import build, calibration_set, write_onnx


@pytest.fixture
def trt10() -> Any:
    with installed("10.3", purge=PURGE) as module:
        yield module


def plan_of(trt: Any, precision: str = "fp32", **options: Any) -> Any:
    from edgeunet.trt.plan import parse_version, plan_build

    return plan_build(parse_version(trt.__version__), precision, **options)


def test_parser_refusal_is_one_line_naming_inspect(trt10: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.build import build_engine

    path = write_onnx(tmp_path, M.qdq(zero_point=3))
    with pytest.raises(EdgeUnetError, match=r"cannot parse this ONNX .*edgeunet inspect"):
        build_engine(path, plan_of(trt10, "int8"), (1, 1, 4, 4))


def test_failed_build_and_raw_errors_are_one_line(trt10: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt import build as trt_build

    qdq = write_onnx(tmp_path, M.qdq())
    weak = trt_build.BuildPlan(version=(10, 3, 0), precision="fp32", onnx_precision="fp32")  # Q/DQ without the INT8 flag
    with pytest.raises(EdgeUnetError) as info:
        trt_build.build_engine(qdq, weak, (1, 1, 4, 4))
    assert str(info.value) == "TensorRT could not build the engine (see its log above); try --workspace 2048 or check `edgeunet inspect`"
    monkeypatch.setattr(trt_build, "create_network", lambda *_: (_ for _ in ()).throw(RuntimeError("pybind: boom")))
    with pytest.raises(EdgeUnetError, match=r"TensorRT failed while building the engine \(RuntimeError: pybind: boom\)"):
        trt_build.build_engine(qdq, weak, (1, 1, 4, 4))


def test_workspace_dla_and_calibrator_checks(trt10: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.build import build_engine
    from edgeunet.trt.plan import parse_shapes

    path = write_onnx(tmp_path, M.conv_relu())
    built = build(trt10, path, workspace_mib=64, requested=parse_shapes("1x1x8x8"))
    # the limit TensorRT got, in bytes (a MiB count passed as bytes, or as KiB, is caught here and by the build itself)
    assert built.plan_bytes and state().memory_pools == {"WORKSPACE": 64 << 20}
    configure_gpu(dla_cores=1)
    dla = plan_of(trt10, fp16=True, dla_core=0)
    with pytest.raises(EdgeUnetError) as info:
        build_engine(path, dla, (1, 1, 8, 8), parse_shapes("1x1x8x8,2x1x8x8,4x1x8x8"))
    assert str(info.value) == "--dla-core: the DLA needs static shapes; give --shapes with min = opt = max"
    implicit = plan_of(trt10, int8=True, calibrator="entropy")
    with pytest.raises(EdgeUnetError, match="needs calibration images"):
        build_engine(path, implicit, (1, 1, 8, 8))


def test_dynamic_model_calibrates_with_its_own_profile(trt10: Any, tmp_path: Path) -> None:
    from tests.trtsim import state

    path = write_onnx(tmp_path, M.conv_relu())  # batch "N": a profile, and a static calibration profile beside it
    build(trt10, path, int8=True, calibrator="minmax", calibration=calibration_set(tmp_path, count=2, method="minmax"))
    assert state().batches_fed == 2


def test_calibration_batch_that_does_not_fit_the_model(trt10: Any, tmp_path: Path) -> None:
    import dataclasses

    from edgeunet.core.errors import EdgeUnetError

    path = write_onnx(tmp_path, M.conv_relu(batch=2))
    three = dataclasses.replace(calibration_set(tmp_path, count=3), batch_size=3)
    with pytest.raises(EdgeUnetError) as info:
        build(trt10, path, shape=(2, 1, 8, 8), int8=True, calibrator="entropy", calibration=three)
    assert str(info.value) == ("the ONNX input has a fixed batch of 2 but calibration was prepared in batches of 3; rebuild from the same ONNX")
    one = write_onnx(tmp_path, M.conv_relu(batch=1), "one.onnx")
    two = dataclasses.replace(calibration_set(tmp_path, count=2), batch_size=2)
    with pytest.raises(EdgeUnetError, match=r"^the ONNX input has a fixed batch of 1 but calibration was prepared in batches of 2"):
        build(trt10, one, int8=True, calibrator="entropy", calibration=two)
    with pytest.raises(EdgeUnetError, match="at least 3 image"):
        dataclasses.replace(calibration_set(tmp_path, count=2), batch_size=3)


@pytest.mark.parametrize("broken", ["read", "write"])
def test_cache_errors_inside_callbacks_fail_the_build(trt10: Any, tmp_path: Path, broken: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.calibration import CalibrationSet

    calib = calibration_set(tmp_path)
    if broken == "read":
        monkeypatch.setattr(CalibrationSet, "read_cache", lambda self: (_ for _ in ()).throw(OSError("disk gone")))
    else:
        monkeypatch.setattr(CalibrationSet, "write_manifest", lambda self: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(EdgeUnetError, match="calibration failed.*OSError: disk"):
        build(trt10, write_onnx(tmp_path, M.conv_relu(batch=1)), int8=True, calibrator="entropy", calibration=calib)


def test_short_calibration_fails_the_build(trt10: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import itertools

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.calibration import CalibrationSet

    planned = CalibrationSet.batches
    monkeypatch.setattr(CalibrationSet, "batches", lambda self: itertools.islice(planned(self), 2))  # data ends early
    with pytest.raises(EdgeUnetError, match="stopped after 2 of 3 batches"):
        build(trt10, write_onnx(tmp_path, M.conv_relu(batch=1)), int8=True, calibrator="entropy", calibration=calibration_set(tmp_path))


def test_calibration_cache_files(tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.calibration import make_calibration_set, parse_calibration_cache

    with pytest.raises(EdgeUnetError, match="malformed scale"):
        parse_calibration_cache("TRT-10-EntropyCalibration2\ninput: zzzzzzzz\n")
    calib = calibration_set(tmp_path)
    calib.cache_path.write_text("x")
    calib.manifest_path.write_text("{not json")
    assert calib.read_cache() is None
    with pytest.raises(EdgeUnetError, match="entropy and minmax"):
        make_calibration_set(tmp_path, calib.spec, "0" * 64, "m", "percentile")


def test_runner_failures_are_one_line(trt10: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt import runner as trt_runner

    with pytest.raises(EdgeUnetError, match="not supported by edgeunet's runner"):
        trt_runner.numpy_dtype("FP8")
    blob = build(trt10, write_onnx(tmp_path, M.conv_relu(batch=1))).plan_bytes
    runner = trt_runner.EngineRunner(blob, "m.engine")
    with pytest.raises(EdgeUnetError, match="inputs missing: input"):
        runner.infer({})
    monkeypatch.setattr(type(runner.context), "execute_async_v3", lambda self, handle: False)
    with pytest.raises(EdgeUnetError, match="failed to run the engine"):
        runner.infer({"input": np.zeros((1, 1, 8, 8), np.float32)})
    monkeypatch.setattr(type(runner.context), "execute_async_v3", lambda self, handle: (_ for _ in ()).throw(RuntimeError("illegal address")))
    with pytest.raises(EdgeUnetError, match=r"m.engine: TensorRT/CUDA failed while running the engine \(RuntimeError: illegal address\)"):
        runner.infer({"input": np.zeros((1, 1, 8, 8), np.float32)})
    runner.close()
    binding = trt_runner._Binding("x", False, np.float32)
    with pytest.raises(EdgeUnetError, match="unresolved shape"):
        binding.ensure(runner.session, (-1, 4))
    engine_type = type(runner.engine) if hasattr(runner, "engine") else None
    assert engine_type is None  # closed: context, engine and runtime are gone


def test_runner_load_failures(trt10: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.runner import EngineRunner

    blob = build(trt10, write_onnx(tmp_path, M.conv_relu(batch=1))).plan_bytes
    monkeypatch.setattr(trt10.ICudaEngine, "create_execution_context", lambda self: None)
    with pytest.raises(EdgeUnetError, match="could not create an execution context"):
        EngineRunner(blob, "m.engine")
    monkeypatch.setattr(trt10.ICudaEngine, "create_execution_context", lambda self: (_ for _ in ()).throw(MemoryError("oom")))
    with pytest.raises(EdgeUnetError, match=r"could not load this engine \(MemoryError: oom\)"):
        EngineRunner(blob, "m.engine")


def test_missing_tensorrt_and_pycuda_are_exit_3() -> None:
    from edgeunet.core.errors import MissingDependencyError
    from edgeunet.trt import import_tensorrt, pycuda_version, tensorrt_version

    assert tensorrt_version() is None and pycuda_version() is None  # CI has neither
    with pytest.raises(MissingDependencyError, match="TensorRT not found"):
        import_tensorrt()
    from edgeunet.trt.cuda import CudaSession

    with pytest.raises(MissingDependencyError, match="pycuda not found"):
        CudaSession()


def test_no_gpu_behind_pycuda_is_one_line(trt10: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from edgeunet.core.errors import MissingDependencyError
    from edgeunet.trt.cuda import CudaSession

    monkeypatch.setitem(sys.modules, "pycuda.autoprimaryctx", None)  # import of it fails like cuInit without a GPU
    with pytest.raises(MissingDependencyError, match="CUDA is not usable here"):
        CudaSession()


def test_sidecar_problems_are_one_line(tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.sidecar import check_engine_file, read_sidecar, sidecar_path, spec_of_sidecar

    engine = tmp_path / "m.engine"
    with pytest.raises(EdgeUnetError, match="no such engine file"):
        check_engine_file(engine)
    with pytest.raises(EdgeUnetError, match="is a folder"):
        check_engine_file(tmp_path)
    engine.write_bytes(b"x")
    base = {"format": "edgeunet-engine-sidecar", "engine_sha256": "0" * 64, "tensorrt_version": "10.3.0", "precision": "fp32",
            "spec": {}, "build_command": "edgeunet build-engine m.onnx"}
    sidecar_path(engine).write_text(json.dumps({**base, "gpu": "x"}))
    with pytest.raises(EdgeUnetError, match=r"engine sidecar field 'gpu' must be an object"):
        read_sidecar(engine)
    with pytest.raises(EdgeUnetError, match=r"corrupt sidecar \(spec\)"):
        spec_of_sidecar({**base, "spec": None}, engine)


def test_backend_refuses_the_cpu(tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.runtime.trt_backend import TensorRTBackend

    with pytest.raises(EdgeUnetError, match="for the CPU use the .onnx"):
        TensorRTBackend(tmp_path / "m.engine", device="cpu")


def test_selftest_needs_pycuda(trt10: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import MissingDependencyError
    from edgeunet.trt import selftest

    monkeypatch.setattr("edgeunet.trt.pycuda_version", lambda: None)
    with pytest.raises(MissingDependencyError, match="pycuda"):
        selftest.build_and_run(write_onnx(tmp_path, M.conv_relu(batch=1)), {"input": np.zeros((1, 1, 8, 8), np.float32)})
    assert state().builders_created == 0 and state().allocations == 0  # refused before TensorRT or CUDA was touched
