"""The emulator itself: surface per version, parser rules, builder/runtime rules, calibrator protocol, pycuda checks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, List, Optional, Tuple

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto

from tests.trtsim import assert_clean, configure_gpu, state, subprocess_env
from tests.trtsim import models as M

ALL = ["8.6", "10.3", "11"]


def network_flags(trt: Any) -> int:
    major = int(trt.__version__.split(".")[0])
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if major < 10 else 0


def parse(trt: Any, model: Any, flags: Optional[int] = None) -> Tuple[Any, Any, Any, Any, bool]:
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt) if flags is None else flags)
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse(model.SerializeToString())
    return logger, builder, network, parser, ok


def build(trt: Any, model: Any, shape: Optional[Tuple[int, ...]] = None, flags: Tuple[str, ...] = (), calibrator: Any = None,
          calib_shape: Optional[Tuple[int, ...]] = None) -> Optional[bytes]:
    _, builder, network, parser, ok = parse(trt, model)
    assert ok, [str(parser.get_error(i)) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    for flag in flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if shape is not None:
        profile = builder.create_optimization_profile()
        profile.set_shape(network.get_input(0).name, shape, shape, shape)
        assert config.add_optimization_profile(profile) == 0
    if calibrator is not None:
        config.int8_calibrator = calibrator
        if calib_shape is not None:
            calib = builder.create_optimization_profile()
            calib.set_shape("input", calib_shape, calib_shape, calib_shape)
            config.set_calibration_profile(calib)
    blob = builder.build_serialized_network(network, config)
    return None if blob is None else bytes(blob)


def run(trt: Any, blob: bytes, x: np.ndarray, out_shape: Optional[Tuple[int, ...]] = None) -> np.ndarray:
    import pycuda.autoprimaryctx  # noqa: F401 - pushes the primary context in this thread
    import pycuda.driver as cuda

    engine = trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(blob)
    context = engine.create_execution_context()
    assert context.set_input_shape("input", x.shape)
    out_name = engine.get_tensor_name(1)
    shape = out_shape or tuple(context.get_tensor_shape(out_name))
    out = np.empty(shape, dtype=trt.nptype(engine.get_tensor_dtype(out_name)))
    d_in, d_out = cuda.mem_alloc(x.nbytes), cuda.mem_alloc(out.nbytes)
    stream = cuda.Stream()
    cuda.memcpy_htod_async(d_in, x, stream)
    context.set_tensor_address("input", int(d_in))
    context.set_tensor_address(out_name, int(d_out))
    assert context.execute_async_v3(stream.handle)
    cuda.memcpy_dtoh_async(out, d_out, stream)
    stream.synchronize()
    d_in.free()
    d_out.free()
    return out


def reference(model: Any, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


# -- API surface -----------------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ["11"], indirect=True)
def test_names_removed_in_11_are_attribute_errors(trt: Any) -> None:
    assert trt.__version__ == "11.1.0"
    removed = ((trt.BuilderFlag, "FP16"), (trt.BuilderFlag, "INT8"), (trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"), (trt, "IInt8EntropyCalibrator2"))
    for owner, name in removed:
        with pytest.raises(AttributeError):
            getattr(owner, name)
    config = trt.Builder(trt.Logger()).create_builder_config()
    with pytest.raises(AttributeError):
        config.int8_calibrator = None
    assert trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED is not None


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_bindings_api_is_gone_in_10(trt: Any) -> None:
    blob = build(trt, M.conv_relu(batch=1))
    assert blob is not None
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(blob)
    context = engine.create_execution_context()
    for obj, name in ((context, "execute_async_v2"), (engine, "num_bindings"), (trt.Builder(trt.Logger()), "build_engine")):
        with pytest.raises(AttributeError, match=name):
            getattr(obj, name)
    assert engine.device_memory_size_v2 > 0 and trt.DataType.INT64 is not None


@pytest.mark.parametrize("trt", ["8.6"], indirect=True)
def test_listed_but_not_emulated_is_not_implemented(trt: Any) -> None:
    assert trt.__version__ == "8.6.1"
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(build(trt, M.conv_relu(batch=1)))
    with pytest.raises(NotImplementedError, match=r"tensorrt 8.6 ICudaEngine.num_bindings exists but is not emulated"):
        _ = engine.num_bindings
    with pytest.raises(NotImplementedError, match="execute_async_v2"):
        _ = engine.create_execution_context().execute_async_v2
    with pytest.raises(NotImplementedError, match="get_plugin_registry"):
        _ = trt.get_plugin_registry
    with pytest.raises(AttributeError):
        _ = trt.DataType.INT64  # not in the 8.6.1 json
    assert trt.Logger.WARNING == trt.ILogger.Severity.WARNING
    assert issubclass(trt.IInt8EntropyCalibrator2, trt.IInt8Calibrator)


# -- ONNX parser -----------------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ALL, indirect=True)
def test_parser_rejects_nonzero_qdq_zero_point(trt: Any) -> None:
    _, _, network, parser, ok = parse(trt, M.qdq(zero_point=3))
    assert not ok and parser.num_errors >= 1
    error = parser.get_error(0)
    assert "zero point" in error.desc() and error.node() == 0
    assert parse(trt, M.qdq(zero_point=0))[4]


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_uint8_cast_rule(trt: Any) -> None:
    _, _, _, parser, ok = parse(trt, M.uint8_cast(TensorProto.INT64))
    assert not ok
    assert any("UINT8" in parser.get_error(i).desc() for i in range(parser.num_errors))
    _, _, network, _, ok = parse(trt, M.uint8_cast(TensorProto.FLOAT))
    assert ok and network.get_input(0).dtype == trt.DataType.UINT8 and tuple(network.get_input(0).shape) == (1, 4, 4, 1)


@pytest.mark.parametrize("trt", ["8.6", "10.3"], indirect=True)
def test_parser_matrix_rules(trt: Any) -> None:
    assert not parse(trt, M.resize("cubic"))[4]  # Resize modes: nearest, linear
    assert parse(trt, M.resize("linear"))[4]
    _, _, _, parser, ok = parse(trt, M.single("Col2Im", ["input", "input", "input"], opset=18))  # N (10.1) / absent (8.x)
    assert not ok
    assert any(parser.get_error(i).code() == trt.ErrorCode.UNSUPPORTED_NODE and "Col2Im" in parser.get_error(i).desc() for i in range(parser.num_errors))


@pytest.mark.parametrize("trt", ["8.6"], indirect=True)
def test_8x_parser_needs_explicit_batch(trt: Any) -> None:
    _, _, network, parser, ok = parse(trt, M.conv_relu(), flags=0)
    assert not ok and "explicit batch" in parser.get_error(0).desc()
    _, _, network, _, ok = parse(trt, M.conv_relu())
    assert ok and tuple(network.get_input(0).shape) == (-1, 1, 8, 8) and network.num_outputs == 1


# -- builder / runtime -----------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ALL, indirect=True)
def test_round_trip_matches_onnxruntime(trt: Any) -> None:
    model = M.conv_relu()
    assert build(trt, model) is None  # dynamic batch without a profile
    assert "no optimization profile" in " ".join(state().messages("ERROR"))
    blob = build(trt, model, shape=(2, 1, 8, 8))
    assert blob is not None
    x = np.random.RandomState(1).randn(2, 1, 8, 8).astype(np.float32)
    np.testing.assert_allclose(run(trt, blob, x), reference(model, x), rtol=1e-6, atol=1e-6)
    assert state().executions == 1
    assert_clean()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_fp16_and_strong_typing_rules(trt: Any) -> None:
    model = M.conv_relu(batch=1)
    x = np.random.RandomState(2).randn(1, 1, 8, 8).astype(np.float32)
    out = run(trt, build(trt, model, flags=("FP16",)), x)
    np.testing.assert_allclose(out, reference(model, x), rtol=2e-3, atol=2e-3)
    logger = trt.Logger()
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    assert trt.OnnxParser(network, logger).parse(model.SerializeToString())
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    assert builder.build_serialized_network(network, config) is None
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 1, 8, 8), (2, 1, 8, 8), (1, 1, 8, 8))  # opt > max
    assert not profile and config.add_optimization_profile(profile) == -1


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runtime_refuses_foreign_or_damaged_engines(trt: Any) -> None:
    blob = build(trt, M.conv_relu(batch=1))
    runtime = trt.Runtime(trt.Logger(trt.Logger.INTERNAL_ERROR))
    assert runtime.deserialize_cuda_engine(blob[:-10]) is None
    assert runtime.deserialize_cuda_engine(b"not an engine") is None
    configure_gpu(compute_capability=(8, 6))
    assert runtime.deserialize_cuda_engine(blob) is None
    configure_gpu(compute_capability=(8, 7))
    engine = runtime.deserialize_cuda_engine(blob)
    assert engine.num_io_tensors == 2 and engine.get_tensor_mode("input") == trt.TensorIOMode.INPUT
    assert [tuple(d) for d in engine.get_tensor_profile_shape("input", 0)] == [(1, 1, 8, 8)] * 3
    assert len(state().load_failures) == 3 and "incompatible device" in state().load_failures[-1]
    context = engine.create_execution_context()
    assert not context.set_input_shape("input", (2, 1, 8, 8))  # outside the (static) profile


def test_engine_from_another_version_is_refused() -> None:
    from tests.trtsim import installed

    with installed("8.6") as trt86:
        blob = build(trt86, M.conv_relu(batch=1))
    with installed("10.3") as trt103:
        assert trt103.Runtime(trt103.Logger(trt103.Logger.INTERNAL_ERROR)).deserialize_cuda_engine(blob) is None
        assert "expecting library version 10.3.0 got 8.6.1" in state().load_failures[0]


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_timing_cache_rules(trt: Any) -> None:
    config = trt.Builder(trt.Logger(trt.Logger.INTERNAL_ERROR)).create_builder_config()
    cache = config.create_timing_cache(b"")
    assert config.set_timing_cache(cache, False) and config.get_timing_cache() is cache
    blob = bytes(cache.serialize())
    config.create_timing_cache(b"garbage")
    assert "4: The timing cache will not be used!" in state().messages("ERROR")
    configure_gpu(name="Other GPU")
    fresh = trt.Builder(trt.Logger(trt.Logger.INTERNAL_ERROR)).create_builder_config()
    foreign = fresh.create_timing_cache(blob)
    assert fresh.set_timing_cache(foreign, False) is False and fresh.get_timing_cache() is None
    assert fresh.set_timing_cache(foreign, True) is True
    assert state().timing_cache == ["created-empty", "set-accepted", "corrupt", "created-from-blob", "set-rejected", "set-accepted"]


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_implicit_int8_without_calibrator_falls_back(trt: Any) -> None:
    assert build(trt, M.conv_relu(batch=1), flags=("INT8",)) is not None
    assert any("Calibrator is not being used" in m for m in state().messages("WARNING"))
    assert build(trt, M.qdq(), flags=()) is None  # Q/DQ without the INT8 flag (weakly typed)


# -- calibrator protocol ---------------------------------------------------------------------------
def make_calibrator(trt: Any, batches: List[np.ndarray], fail_at: int = -1, cache: Optional[bytes] = None) -> Any:
    import pycuda.autoprimaryctx  # noqa: F401
    import pycuda.driver as cuda

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index = 0
            self.written: Optional[bytes] = None
            self.buffers: List[Any] = []

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: List[str]) -> Optional[List[int]]:
            if self.index == fail_at:
                raise ValueError("bad image")
            if self.index >= len(batches):
                return None
            buffer = cuda.mem_alloc(batches[self.index].nbytes)
            cuda.memcpy_htod(buffer, batches[self.index])
            self.buffers.append(buffer)
            self.index += 1
            return [int(buffer)]

        def read_calibration_cache(self) -> Optional[bytes]:
            return cache

        def write_calibration_cache(self, data: Any) -> None:
            self.written = bytes(data)

    return Calibrator()


@pytest.mark.parametrize("trt", ["8.6", "10.3"], indirect=True)
def test_calibrator_protocol_and_cache(trt: Any) -> None:
    batches = [np.random.RandomState(i).randn(1, 1, 8, 8).astype(np.float32) for i in range(3)]
    calibrator = make_calibrator(trt, batches)
    blob = build(trt, M.conv_relu(batch=1), flags=("INT8",), calibrator=calibrator)
    assert blob is not None
    calls = state().calibrator_calls
    assert calls == ["read_calibration_cache", "get_batch_size", "get_batch", "get_batch", "get_batch", "get_batch", "write_calibration_cache"]
    assert state().batches_fed == 3
    header, *lines = calibrator.written.decode().splitlines()
    assert header.startswith("TRT-") and header.endswith("EntropyCalibration2")
    assert any(line.startswith("input: ") and len(line.split(": ")[1]) == 8 for line in lines)
    state().calibrator_calls.clear()
    cached = make_calibrator(trt, batches, cache=calibrator.written)
    assert build(trt, M.conv_relu(batch=1), flags=("INT8",), calibrator=cached) is not None
    assert state().calibrator_calls == ["read_calibration_cache"] and cached.index == 0


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_get_batch_exception_is_swallowed_and_printed(trt: Any, capsys: pytest.CaptureFixture) -> None:
    batches = [np.zeros((1, 1, 8, 8), np.float32) + i for i in range(3)]
    calibrator = make_calibrator(trt, batches, fail_at=1)
    assert build(trt, M.conv_relu(batch=1), flags=("INT8",), calibrator=calibrator) is not None
    assert "[ERROR] Exception caught in get_batch(): ValueError: bad image" in capsys.readouterr().err
    assert state().batches_fed == 1 and state().calibrator_calls[-1] == "write_calibration_cache"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_undersized_calibration_buffer_fails_the_build(trt: Any) -> None:
    batches = [np.zeros((1, 1, 8, 8), np.float32)]
    assert build(trt, M.conv_relu(batch=2), flags=("INT8",), calibrator=make_calibrator(trt, batches)) is None
    assert any("out of bounds" in m for m in state().messages("ERROR"))


# -- pycuda ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_device_memory_and_context_checks(trt: Any) -> None:
    import pycuda.driver as cuda

    cuda.init()
    with pytest.raises(cuda.LogicError, match="invalid device context"):
        cuda.mem_alloc(16)
    with pytest.raises(cuda.LogicError, match="empty"):
        cuda.Context.pop()
    context = cuda.Device(0).retain_primary_context()
    context.push()
    assert cuda.Context.get_device().name() == "NVIDIA Emulated GPU" and cuda.Device(0).compute_capability() == (8, 7)
    buffer = cuda.mem_alloc(16)
    with pytest.raises(cuda.LogicError, match="out of bounds"):
        cuda.memcpy_htod(buffer, np.zeros(8, np.float32))
    cuda.memcpy_htod(int(buffer) + 8, np.ones(2, np.float32))
    out = np.empty(4, np.float32)
    cuda.memcpy_dtoh(out, buffer)
    assert out.tolist() == [0, 0, 1, 1]
    with pytest.raises(AssertionError, match="not freed"):
        assert_clean()
    buffer.free()
    with pytest.raises(cuda.LogicError, match="use after free"):
        cuda.memcpy_dtoh(out, buffer)
    with pytest.raises(AssertionError, match="left pushed"):
        assert_clean()
    cuda.Context.pop()
    assert_clean()


def test_subprocess_install() -> None:
    code = (
        "import tensorrt, pycuda, pycuda.driver as d; import pycuda.autoprimaryctx as p; "
        "print(tensorrt.__version__, pycuda.VERSION_TEXT, d.Context.get_device().name())"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env("8.6"), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("8.6.1 ") and "NVIDIA Emulated GPU" in proc.stdout


@pytest.mark.parametrize("trt", ["8.5"], indirect=True)
def test_85_uses_the_861_surface_and_the_85_matrix(trt: Any) -> None:
    assert trt.__version__ == "8.5.3.1" and trt.IInt8MinMaxCalibrator is not None
    assert not parse(trt, M.uint8_cast(TensorProto.FLOAT))[4]  # the 8.5 matrix's Cast has no UINT8
    assert parse(trt, M.conv_relu())[4]


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_autoinit_context_is_current_only_in_the_importing_thread(trt: Any) -> None:
    import threading

    import pycuda.autoinit  # noqa: F401
    import pycuda.driver as cuda

    cuda.mem_alloc(4).free()
    errors: List[BaseException] = []

    def worker() -> None:
        try:
            cuda.mem_alloc(4)
        except cuda.LogicError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "invalid device context" in str(errors[0])
    assert_clean()
