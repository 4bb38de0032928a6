"""The emulator rules of issue 23: what a real GPU, TensorRT and pybind would catch and the emulator used to let pass.

Asynchrony (work runs at synchronize, early reads are poisoned, events complete late, the default stream warns),
pybind (base __init__, IHostMemory), resources (pools, workspace, alignment, timing cache, profiles, external data),
enum values and the 8.5.3 / pycuda surfaces. Each test names the rule it pins; tests/trtsim/README.md cites sources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Tuple

import numpy as np
import onnx
import pytest

from tests.trtsim import configure_gpu, state
from tests.trtsim import models as M
from tests.trtsim.cuda import is_pinned, pending_work
from tests.trtsim.surface import API_DIR, VERSIONS, enum_values
from tests.trtsim.test_emulator import build, parse

ALL = ["8.5", "8.6", "10.3", "11"]


def _engine(trt: Any, shape: Tuple[int, ...] = (1, 1, 8, 8)) -> Tuple[Any, Any]:
    import pycuda.autoprimaryctx  # noqa: F401 - pushes the primary context in this thread

    blob = build(trt, M.conv_relu(batch=shape[0]))
    assert blob is not None
    engine = trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(blob)
    return engine, engine.create_execution_context()


def _enqueue(trt: Any, x: np.ndarray) -> Tuple[Any, Any, np.ndarray, Any]:
    """Pinned buffers, async H2D -> execute_async_v3 -> async D2H, no synchronize yet."""
    import pycuda.driver as cuda

    _, context = _engine(trt)
    host_in = cuda.pagelocked_empty(x.shape, np.float32)
    host_in[...] = x
    out = cuda.pagelocked_empty((1, 2, 8, 8), np.float32)
    d_in, d_out = cuda.mem_alloc(host_in.nbytes), cuda.mem_alloc(out.nbytes)
    stream = cuda.Stream()
    cuda.memcpy_htod_async(d_in, host_in, stream)
    assert context.set_tensor_address("input", int(d_in)) and context.set_tensor_address("logits", int(d_out))
    assert context.execute_async_v3(stream.handle)
    cuda.memcpy_dtoh_async(out, d_out, stream)
    return stream, host_in, out, (d_in, d_out)


# -- asynchrony ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_host_buffer_read_before_synchronize_is_poisoned(trt: Any) -> None:
    x = np.random.RandomState(0).randn(1, 1, 8, 8).astype(np.float32)
    stream, _, out, buffers = _enqueue(trt, x)
    assert np.isnan(out).all() and not stream.is_done() and state().executions == 0
    stream.synchronize()
    assert np.isfinite(out).all() and stream.is_done() and state().executions == 1
    assert state().stream_ops == ["memcpy_htod_async", "execute_async_v3", "memcpy_dtoh_async"]
    for buffer in buffers:
        buffer.free()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_pinned_source_is_read_when_the_copy_runs(trt: Any) -> None:
    """Overwriting a pinned input after memcpy_htod_async but before the stream ran changes what the GPU sees."""
    import pycuda.driver as cuda

    x = np.ones((1, 1, 8, 8), np.float32)
    stream, host_in, out, _ = _enqueue(trt, x)
    host_in[...] = 0.0  # a race on a GPU: the DMA has not happened yet
    stream.synchronize()
    zeros = out.copy()
    stream2, _, out2, _ = _enqueue(trt, x)
    cuda.Context.synchronize()  # the context-wide wait runs every stream
    assert not np.allclose(zeros, out2) and stream2.is_done()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_synchronous_copy_and_event_wait_run_pending_work(trt: Any) -> None:
    import pycuda.driver as cuda

    x = np.random.RandomState(1).randn(1, 1, 8, 8).astype(np.float32)
    _, _, _, (_, d_out) = _enqueue(trt, x)
    result = np.empty((1, 2, 8, 8), np.float32)
    cuda.memcpy_dtoh(result, d_out)  # the legacy default stream waits for every blocking stream
    assert np.isfinite(result).all() and state().executions == 1
    stream = cuda.Stream()
    start, end = cuda.Event(), cuda.Event()
    start.record(stream)
    end.record(stream)
    assert not end.query()
    with pytest.raises(cuda.RuntimeError, match="not ready"):
        end.time_since(start)
    end.synchronize()
    assert end.query() and end.time_since(start) >= 0.0 and start.time_till(end) >= 0.0
    with pytest.raises(cuda.LogicError, match="never recorded"):
        cuda.Event().time_since(start)


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_pageable_destination_and_default_stream(trt: Any) -> None:
    """A D2H copy into pageable memory returns when done; enqueueV3 on stream 0 warns and TensorRT synchronizes it."""
    import pycuda.driver as cuda

    _, context = _engine(trt)
    x = np.random.RandomState(2).randn(1, 1, 8, 8).astype(np.float32)
    d_in, d_out = cuda.mem_alloc(x.nbytes), cuda.mem_alloc(2 * x.nbytes)
    cuda.memcpy_htod_async(d_in, x)  # stream None: the default stream; a pageable source is staged at once
    context.set_tensor_address("input", int(d_in))
    context.set_tensor_address("logits", int(d_out))
    assert context.execute_async_v3(0)
    assert any("Using default stream in enqueueV3()" in m for m in state().messages("WARNING"))
    out = np.empty((1, 2, 8, 8), np.float32)  # pageable
    cuda.memcpy_dtoh_async(out, d_out, cuda.Stream())
    assert np.isfinite(out).all() and not pending_work()
    with pytest.raises(TypeError, match="Stream or None"):
        cuda.memcpy_htod_async(d_in, x, 5)
    with pytest.raises(BufferError, match="not contiguous"):
        cuda.memcpy_htod(d_in, np.zeros((2, 16), np.float32)[:, ::2])  # pycuda does not fix contiguity silently


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_failure_inside_enqueued_work_surfaces_at_synchronize(trt: Any) -> None:
    import pycuda.driver as cuda

    x = np.zeros((1, 1, 8, 8), np.float32)
    stream, _, _, (d_in, _) = _enqueue(trt, x)
    d_in.free()  # freed while the GPU still has work that reads it
    with pytest.raises(cuda.LogicError, match="use after free"):
        stream.synchronize()


# -- pybind rules --------------------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ALL, indirect=True)
def test_subclass_without_base_init_is_a_type_error(trt: Any) -> None:
    names = [n for n in ("ILogger", "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator", "IGpuAllocator", "IProgressMonitor",
                         "IErrorRecorder", "IProfiler", "IOutputAllocator") if hasattr(trt, n)]
    assert "ILogger" in names and "IGpuAllocator" in names
    assert ("IProgressMonitor" in names) == (trt.__version__[0] == "1")  # from 10.x on
    assert ("IInt8EntropyCalibrator2" in names) == (not trt.__version__.startswith("11"))
    for name in names:
        base = getattr(trt, name)
        forgot = type("Forgot", (base,), {"__init__": lambda self: None})
        with pytest.raises(TypeError, match=rf"tensorrt.tensorrt.{name}.__init__\(\) must be called when overriding __init__"):
            forgot()
        def init(self: Any, base: Any = base) -> None:
            base.__init__(self)

        good = type("Good", (base,), {"__init__": init})
        assert isinstance(good(), base)
        assert isinstance(type("Plain", (base,), {})(), base)  # no __init__ of its own: the base one runs


@pytest.mark.parametrize("trt", ["8.5", "11"], indirect=True)
def test_ihostmemory_is_a_buffer_not_bytes(trt: Any) -> None:
    blob = build(trt, M.conv_relu(batch=1))  # bytes(IHostMemory), through the buffer protocol
    assert blob is not None
    _, builder, network, _, _ = parse(trt, M.conv_relu(batch=1))
    memory = builder.build_serialized_network(network, builder.create_builder_config())
    assert isinstance(memory, trt.IHostMemory) and not isinstance(memory, (bytes, bytearray))
    assert memory.nbytes == len(blob) and memory.dtype == trt.DataType.UINT8
    assert bytes(memoryview(memory)) == blob and np.frombuffer(memory, np.uint8).size == len(blob)
    for attempt in (lambda: len(memory), lambda: memory[:4], lambda: list(memory), lambda: b"x" in memory):
        with pytest.raises(TypeError, match="IHostMemory"):
            attempt()
    assert memory != blob  # no content equality with bytes
    for name in ("decode", "startswith", "hex", "read", "size"):  # bytes' and mmap's methods are not IHostMemory's
        with pytest.raises(AttributeError):
            getattr(memory, name)


# -- resources -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("trt", ["8.5", "10.3"], indirect=True)
def test_memory_pools_per_device_and_version(trt: Any) -> None:
    _, builder, _, _, _ = parse(trt, M.conv_relu(batch=1))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 20)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 1 << 20
    config.set_memory_pool_limit(trt.MemoryPoolType.DLA_MANAGED_SRAM, 1 << 20)  # no DLA on this device
    assert any("needs a DLA" in m for m in state().messages("ERROR"))
    assert config.get_memory_pool_limit(trt.MemoryPoolType.DLA_MANAGED_SRAM) == 0
    configure_gpu(dla_cores=2)
    config.set_memory_pool_limit(trt.MemoryPoolType.DLA_MANAGED_SRAM, 3 << 20)
    assert any("power of 2" in m for m in state().messages("ERROR"))
    config.set_memory_pool_limit(trt.MemoryPoolType.DLA_MANAGED_SRAM, 1 << 19)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.DLA_MANAGED_SRAM) == 1 << 19
    with pytest.raises(TypeError, match="MemoryPoolType"):
        config.set_memory_pool_limit(trt.DeviceType.GPU, 1)
    with pytest.raises(ValueError, match=">= 0"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, -1)
    if trt.__version__.startswith("8.5"):
        with pytest.raises(AttributeError):
            trt.MemoryPoolType.TACTIC_DRAM  # noqa: B018 - 8.6 on
    else:
        assert int(trt.MemoryPoolType.TACTIC_SHARED_MEMORY) == 5


@pytest.mark.parametrize("trt", ["8.5", "10.3"], indirect=True)
def test_too_small_workspace_fails_the_build_with_tensorrts_message(trt: Any) -> None:
    _, builder, network, _, _ = parse(trt, M.conv_relu(batch=1))  # Conv 3x3 1->2 at 8x8: 9 * 64 * 4 = 2304 bytes
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2303)
    assert builder.build_serialized_network(network, config) is None
    assert any("sufficient workspace memory" in m for m in state().messages("WARNING"))
    assert any("Could not find any implementation for node" in m for m in state().messages("ERROR"))
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2304)
    assert builder.build_serialized_network(network, config) is not None


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_unaligned_tensor_address_is_refused(trt: Any) -> None:
    import pycuda.driver as cuda

    _, context = _engine(trt)
    buffer = cuda.mem_alloc(1024)
    assert not context.set_tensor_address("input", int(buffer) + 4)
    assert any("% 256) == 0" in m for m in state().messages("ERROR"))
    assert context.set_tensor_address("input", int(buffer)) and context.get_tensor_address("input") == int(buffer)
    buffer.free()


@pytest.mark.parametrize("trt", ["8.5", "10.3"], indirect=True)
def test_create_timing_cache_returns_none_for_bytes_that_are_not_a_cache(trt: Any) -> None:
    _, builder, _, _, _ = parse(trt, M.conv_relu(batch=1))
    config = builder.create_builder_config()
    assert config.create_timing_cache(b"\x00garbage") is None
    assert "The timing cache will not be used!" in " ".join(state().messages("ERROR"))
    assert config.create_timing_cache(b"") is not None


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_several_optimization_profiles(trt: Any) -> None:
    import pycuda.autoprimaryctx  # noqa: F401

    _, builder, network, _, _ = parse(trt, M.conv_relu())
    config = builder.create_builder_config()
    for lo, hi in ((1, 2), (4, 8)):
        profile = builder.create_optimization_profile()
        profile.set_shape("input", (lo, 1, 8, 8), (lo, 1, 8, 8), (hi, 1, 8, 8))
        config.add_optimization_profile(profile)
    assert config.num_optimization_profiles == 2
    blob = builder.build_serialized_network(network, config)
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(blob)
    assert engine.num_optimization_profiles == 2 and list(engine.get_tensor_profile_shape("input", 1)[2]) == [8, 1, 8, 8]
    context = engine.create_execution_context()
    assert context.active_optimization_profile == 0 and not context.set_input_shape("input", (6, 1, 8, 8))
    assert context.set_optimization_profile_async(1, 0) and context.active_optimization_profile == 1
    assert context.set_input_shape("input", (6, 1, 8, 8)) and not context.set_input_shape("input", (2, 1, 8, 8))
    assert not context.set_optimization_profile_async(2, 0)


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_external_data_is_read_from_the_models_folder(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "big.onnx"
    model = M.conv_relu(batch=1)
    onnx.external_data_helper.convert_model_to_external_data(model, all_tensors_to_one_file=True, location="big.weights", size_threshold=0)
    onnx.save(model, str(path))
    monkeypatch.chdir(tmp_path)
    _, _, network, parser, _ = parse(trt, M.conv_relu(batch=1))
    assert parser.parse_from_file(str(path)) and network.num_inputs == 1
    _, _, _, parser, _ = parse(trt, M.conv_relu(batch=1))
    assert not parser.parse(path.read_bytes())  # no path: looked up in the working directory, where it is not
    assert "Failed to open file" in parser.get_error(0).desc()
    assert parser.parse(path.read_bytes(), str(path))
    (folder / "big.weights").unlink()
    assert not parser.parse_from_file(str(path))


# -- enum values, the 8.5.3 surface, pycuda's surface ---------------------------------------------------
@pytest.mark.parametrize("trt", ALL, indirect=True)
def test_enum_values_equal_the_shared_files(trt: Any) -> None:
    from tests.trtsim.tensorrt_api import ENUMS

    key = next(k for k in VERSIONS if trt.__version__.startswith(k) or (k == "11" and trt.__version__.startswith("11")))
    expected = enum_values(key)
    raw = json.loads((API_DIR / VERSIONS[key][0].replace("python-api-", "enum-values-")).read_text())
    assert set(expected) == {k for k in raw if not k.startswith("_")} and raw["_unresolved"] in ({}, [])
    for enum, members in expected.items():
        emulated = ENUMS[enum]
        assert {n: int(v) for n, v in emulated.__members__.items()} == members, enum
    flags = trt.Builder(trt.Logger()).create_builder_config()
    flags.set_flag(trt.BuilderFlag.REFIT)
    assert flags.flags == 1 << expected["BuilderFlag"]["REFIT"]  # 16 on 10.3, 32 on 8.x


def test_version_specific_numbers() -> None:
    assert enum_values("10.3")["BuilderFlag"]["REFIT"] == 4 and enum_values("8.5")["BuilderFlag"]["REFIT"] == 5
    assert enum_values("11")["NetworkDefinitionCreationFlag"]["STRONGLY_TYPED"] == 0
    assert enum_values("10.3")["NetworkDefinitionCreationFlag"]["STRONGLY_TYPED"] == 1


@pytest.mark.parametrize("trt", ["11"], indirect=True)
def test_strongly_typed_bit_is_the_versions_own(trt: Any) -> None:
    builder = trt.Builder(trt.Logger())
    assert builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))._strongly_typed
    with pytest.raises(ValueError, match="name no NetworkDefinitionCreationFlag"):
        builder.create_network(1 << 7)


@pytest.mark.parametrize("trt", ["8.5", "8.6"], indirect=True)
def test_85_has_only_the_853_names(trt: Any) -> None:
    """46 names of 8.6.1 are not in 8.5.3 (JetPack 5.1): code that uses one must fail under emulated 8.5."""
    on_85 = trt.__version__.startswith("8.5")
    _, builder, network, _, _ = parse(trt, M.conv_relu(batch=1))
    config = builder.create_builder_config()
    checks = [lambda: trt.BuilderFlag.VERSION_COMPATIBLE, lambda: trt.ICastLayer, lambda: network.add_cast,
              lambda: config.builder_optimization_level, lambda: trt.DataType.FP8, lambda: trt.MemoryPoolType.TACTIC_DRAM]
    for check in checks:
        if on_85:
            with pytest.raises(AttributeError):
                check()
        else:
            try:
                check()
            except NotImplementedError:
                pass  # listed in 8.6.1, not emulated: not an AttributeError
    assert json.loads((API_DIR / "python-api-8.5.3.json").read_text()) is not None and VERSIONS["8.5"][0] == "python-api-8.5.3.json"


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_pycuda_surface_follows_its_json(trt: Any) -> None:
    import pycuda.autoprimaryctx  # noqa: F401
    import pycuda.driver as cuda

    with pytest.raises(AttributeError):
        cuda.memcpy_htoh  # noqa: B018 - not in pycuda
    with pytest.raises(NotImplementedError, match="memset_d8"):
        cuda.memset_d8  # noqa: B018 - in pycuda, not emulated
    with pytest.raises(TypeError, match="No constructor"):
        cuda.DeviceAllocation(16)
    buffer = cuda.mem_alloc(16)
    for name in ("nbytes", "address", "handle"):  # emulator-only or not pycuda's
        with pytest.raises(AttributeError):
            getattr(buffer, name)
    with pytest.raises(NotImplementedError, match="as_buffer"):
        buffer.as_buffer(16)
    stream = cuda.Stream()
    assert isinstance(stream.handle, int) and cuda.Context.get_current() is not None
    with pytest.raises(NotImplementedError, match="wait_for_event"):
        stream.wait_for_event(cuda.Event())
    with pytest.raises(AttributeError):
        cuda.Event().handle  # noqa: B018 - Event has no handle (README)
    host = cuda.pagelocked_empty((2, 3), np.float32)
    assert is_pinned(host) and is_pinned(host[1:]) and not is_pinned(np.empty((2, 3), np.float32))
    assert isinstance(host.base, cuda.HostAllocation) and cuda.HostAllocation is cuda.PagelockedHostAllocation
    buffer.free()
