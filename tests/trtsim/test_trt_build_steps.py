"""edgeunet.trt.build's steps one by one (create_config, timing cache) and edgeunet.trt.cuda's edges, with exact messages."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.trtsim import configure_gpu, state
from tests.trtsim import models as M
from tests.trtsim.test_edgeunet_trt import build, calibration_set, write_onnx


def _network(trt: Any, tmp_path: Path) -> Any:
    from edgeunet.trt import shared_logger
    from edgeunet.trt.build import create_network, parse_onnx
    from edgeunet.trt.plan import BuildPlan

    builder = trt.Builder(shared_logger())
    network = create_network(builder, BuildPlan(version=(10, 3, 0), precision="fp32", onnx_precision="fp32"))
    parse_onnx(network, shared_logger(), write_onnx(tmp_path, M.conv_relu()))
    return builder, network


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_create_config_refusals(trt: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.build import create_config
    from edgeunet.trt.plan import BuildPlan, ShapeProfile

    builder, network = _network(trt, tmp_path)
    base = BuildPlan(version=(10, 3, 0), precision="fp32", onnx_precision="fp32")
    bad = ShapeProfile((4, 1, 8, 8), (2, 1, 8, 8), (1, 1, 8, 8))
    with pytest.raises(EdgeUnetError) as info:
        create_config(builder, network, BuildPlan(**{**base.__dict__, "profile": bad}))
    assert str(info.value) == f"TensorRT refused the shape profile {bad.to_dict()}; check --shapes (min <= opt <= max)"
    with pytest.raises(EdgeUnetError) as info:
        create_config(builder, network, BuildPlan(**{**base.__dict__, "implicit_calibrator": "entropy", "int8_flag": True}))
    assert str(info.value) == "--calibrator entropy needs calibration images (--calib-data DIR)"
    configure_gpu(dla_cores=2)
    with pytest.raises(EdgeUnetError) as info:
        create_config(builder, network, BuildPlan(**{**base.__dict__, "dla_core": 2, "fp16_flag": True}))
    assert str(info.value) == "--dla-core 2: this device has 2 DLA core(s); DLA exists on Jetson Xavier/Orin only"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_calibration_uses_its_own_static_profile(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.plan import parse_shapes

    path = write_onnx(tmp_path, M.conv_relu())  # dynamic batch: build profile opt 4, calibration batches of 1
    build(trt, path, int8=True, calibrator="entropy", calibration=calibration_set(tmp_path, count=2),
          requested=parse_shapes("1x1x8x8,4x1x8x8,8x1x8x8"))
    assert state().batches_fed == 2 and not state().messages("ERROR")


class _Config:
    """A builder config whose timing-cache calls answer as told (what TensorRT may do on a real device)."""

    def __init__(self, create: Optional[Any], accept: bool) -> None:
        self.create, self.accept, self.cache = create, accept, None

    def create_timing_cache(self, blob: bytes) -> Optional[Any]:
        return self.create

    def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
        assert ignore_mismatch is False  # another GPU's cache is never forced in
        return self.accept

    def get_timing_cache(self) -> Optional[Any]:
        return self.cache


def test_timing_cache_notes() -> None:
    from edgeunet.trt.build import apply_timing_cache, serialize_timing_cache

    assert apply_timing_cache(_Config(object(), True), None) is None  # type: ignore[arg-type]
    assert apply_timing_cache(_Config(object(), True), b"cache") is None  # type: ignore[arg-type]
    none = "TensorRT did not take a timing cache; building without one"
    assert apply_timing_cache(_Config(None, True), None) == none  # type: ignore[arg-type]
    assert apply_timing_cache(_Config(object(), False), None) == none  # type: ignore[arg-type]
    assert serialize_timing_cache(_Config(None, True)) == b""  # type: ignore[arg-type]


def test_pycuda_that_does_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import MissingDependencyError
    from edgeunet.trt.cuda import PYCUDA_HINT, _import_pycuda

    broken = types.ModuleType("pycuda")

    def fail(name: str) -> Any:
        raise OSError("libcuda.so.1: cannot open shared object file")

    broken.__getattr__ = fail  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "pycuda", broken)
    monkeypatch.delitem(sys.modules, "pycuda.driver", raising=False)
    with pytest.raises(MissingDependencyError) as info:
        _import_pycuda()
    assert str(info.value) == f"pycuda is installed but does not load (OSError: libcuda.so.1: cannot open shared object file); {PYCUDA_HINT}"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_device_buffer_free_twice(trt: Any) -> None:
    from edgeunet.trt.cuda import CudaSession

    buffer = CudaSession().alloc(64)
    assert buffer.nbytes == 64 and buffer.ptr % 256 == 0
    buffer.free()
    buffer.free()
    assert state().frees == 1


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_network_with_two_inputs_is_refused(trt: Any, tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt import shared_logger
    from edgeunet.trt.build import network_input, parse_onnx

    a, b = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("input", "other"))
    graph = helper.make_graph([helper.make_node("Add", ["input", "other"], ["out"])], "two", [a, b],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    network = trt.Builder(shared_logger()).create_network(0)
    parse_onnx(network, shared_logger(), write_onnx(tmp_path, model, "two.onnx"))
    with pytest.raises(EdgeUnetError) as info:
        network_input(network)
    assert str(info.value) == "expected a model with one input, this one has 2; export it with `edgeunet export`"


def test_shared_logger_is_one_per_tensorrt_and_follows_verbose() -> None:
    from edgeunet.trt import shared_logger
    from tests.trtsim import installed
    from tests.trtsim.fixtures import PURGE

    with installed("10.3", purge=PURGE) as trt10:
        first = shared_logger()
        assert first.min_severity == trt10.Logger.WARNING
        assert shared_logger(True) is first and first.min_severity == trt10.Logger.VERBOSE
        assert shared_logger(False) is first and first.min_severity == trt10.Logger.WARNING
        assert shared_logger() is first and state().loggers_created <= 1
    with installed("8.5", purge=PURGE) as trt85:
        other = shared_logger()
        assert other is not first and isinstance(other, trt85.Logger) and trt85.Builder(other)


@pytest.mark.parametrize(("version", "typed", "flags"), [("8.5", False, 1), ("10.3", False, 0), ("10.3", True, 2), ("11", False, 1)])
def test_network_creation_flags(version: str, typed: bool, flags: int) -> None:
    from edgeunet.trt import shared_logger
    from edgeunet.trt.build import create_network
    from edgeunet.trt.plan import parse_version, plan_build
    from tests.trtsim import installed
    from tests.trtsim.fixtures import PURGE

    with installed(version, purge=PURGE) as trt:
        plan = plan_build(parse_version(trt.__version__), "fp32", strongly_typed=typed)
        network = create_network(trt.Builder(shared_logger()), plan)
        # 8.5: 1 << EXPLICIT_BATCH (0); 10.3: nothing, or 1 << STRONGLY_TYPED (1); 11: nothing asked (always typed)
        assert network._flags == (0 if version == "11" else flags)


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_parser_errors_are_one_line_of_the_first_three(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onnx import TensorProto, helper

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt import shared_logger
    from edgeunet.trt.build import parse_onnx

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    nodes = [helper.make_node("NoSuchOp", ["input" if i == 0 else f"t{i}"], [f"t{i + 1}"]) for i in range(4)]
    graph = helper.make_graph(nodes, "bad", [x], [helper.make_tensor_value_info("t4", TensorProto.FLOAT, [1, 4])])
    path = write_onnx(tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), "bad.onnx")
    probe = trt.OnnxParser(trt.Builder(shared_logger()).create_network(0), shared_logger())
    assert not probe.parse_from_file(str(path)) and probe.num_errors >= 4
    expected = "; ".join(str(probe.get_error(i)).strip().replace("\n", " ") for i in range(3))
    with pytest.raises(EdgeUnetError) as info:
        parse_onnx(trt.Builder(shared_logger()).create_network(0), shared_logger(), path)
    assert str(info.value) == f"{path}: TensorRT cannot parse this ONNX ({expected}); run `edgeunet inspect {path} --trt`"

    class Silent:
        num_errors = 0

        def __init__(self, network: Any, logger: Any) -> None:
            assert isinstance(logger, trt.ILogger)

        def parse_from_file(self, name: str) -> bool:
            return False

    monkeypatch.setattr(trt, "OnnxParser", Silent)
    with pytest.raises(EdgeUnetError, match=r"\(no detail from the parser\); run"):
        parse_onnx(None, shared_logger(), path)  # type: ignore[arg-type]


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_static_model_gets_no_profile_and_a_quiet_logger(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt import _LOGGERS

    built = build(trt, write_onnx(tmp_path, M.conv_relu(batch=1)))
    assert built.profile is None and built.input_shape == (1, 1, 8, 8)
    assert _LOGGERS[id(trt)].min_severity == trt.Logger.WARNING  # build_engine's default: not verbose


def test_broken_tensorrt_message() -> None:
    from edgeunet.core.errors import MissingDependencyError
    from edgeunet.trt import INSTALL_HINT, import_tensorrt
    from tests.trtsim import installed
    from tests.trtsim.fixtures import PURGE

    with installed("10.3", purge=PURGE, broken_import="libnvinfer.so.10: cannot open shared object file"):
        with pytest.raises(MissingDependencyError) as info:
            import_tensorrt()
    assert str(info.value) == f"TensorRT is installed but does not load (OSError: libnvinfer.so.10: cannot open shared object file); {INSTALL_HINT}"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_refused_calibration_profile_and_dynamic_profile_recorded(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.build import create_config
    from edgeunet.trt.plan import BuildPlan, ShapeProfile, parse_shapes

    requested = parse_shapes("1x1x8x8,2x1x8x8,4x1x8x8")
    assert build(trt, write_onnx(tmp_path, M.conv_relu()), requested=requested).profile == requested
    builder, network = _network(trt, tmp_path)
    plan = BuildPlan(version=(10, 3, 0), precision="int8", onnx_precision="fp32", int8_flag=True, implicit_calibrator="entropy",
                     profile=requested)
    monkeypatch.setattr(trt.IBuilderConfig, "set_calibration_profile", lambda self, profile: False)
    one = ShapeProfile((1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 8, 8))
    with pytest.raises(EdgeUnetError) as info:
        create_config(builder, network, plan, trt.IInt8EntropyCalibrator2(), one)
    assert str(info.value) == "TensorRT refused the calibration shape [1, 1, 8, 8]; rebuild from the same ONNX"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runtime_that_fails_to_start_is_one_line(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.runner import EngineRunner

    blob = build(trt, write_onnx(tmp_path, M.conv_relu(batch=1))).plan_bytes

    def refuse(logger: Any) -> Any:
        raise RuntimeError("CUDA initialization failure with error: 35")

    monkeypatch.setattr(trt, "Runtime", refuse)
    with pytest.raises(EdgeUnetError) as info:
        EngineRunner(blob, "m.engine")
    assert str(info.value) == "m.engine: TensorRT could not load this engine (RuntimeError: CUDA initialization failure with error: 35); rebuild it"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_multi_line_parser_errors_become_one_line(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt import shared_logger
    from edgeunet.trt.build import parse_onnx

    class Error:
        def __str__(self) -> str:
            return "In node 0 (parseGraph): INVALID_NODE\nAssertion failed: inputs.at(0)\n"

    class Parser:
        num_errors = 1

        def __init__(self, network: Any, logger: Any) -> None:
            pass

        def parse_from_file(self, name: str) -> bool:
            return False

        def get_error(self, index: int) -> Error:
            return Error()

    monkeypatch.setattr(trt, "OnnxParser", Parser)
    path = tmp_path / "m.onnx"
    with pytest.raises(EdgeUnetError) as info:
        parse_onnx(None, shared_logger(), path)  # type: ignore[arg-type]
    assert str(info.value) == (f"{path}: TensorRT cannot parse this ONNX (In node 0 (parseGraph): INVALID_NODE Assertion failed: inputs.at(0)); "
                               f"run `edgeunet inspect {path} --trt`")
