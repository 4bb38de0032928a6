"""edgeunet's TensorRT code (edgeunet/trt/*) run against the emulator, per TensorRT version.

What passes here proves API use and protocol (flags per version, name-based I/O, buffers, calibrator calls);
never speed or engine accuracy. The "defect" tests failed on the code before issue 12 (each comment says how) and
pass now; they keep the fixes in place.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.trtsim import configure_gpu, installed, state
from tests.trtsim import models as M
from tests.trtsim.fixtures import PURGE

ALL = ["8.6", "10.3", "11"]
IMPLICIT = ["8.6", "10.3"]


def write_onnx(tmp_path: Path, model: Any, name: str = "tiny.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def reference(path: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def version_of(trt: Any) -> Tuple[int, int, int]:
    from edgeunet.trt.plan import parse_version

    return parse_version(trt.__version__)


def build(trt: Any, path: Path, shape: Tuple[int, ...] = (1, 1, 8, 8), **options: Any) -> Any:
    from edgeunet.trt.build import build_engine
    from edgeunet.trt.plan import plan_build

    calibration = options.pop("calibration", None)
    requested = options.pop("requested", None)
    timing = options.pop("timing_cache", None)
    plan = plan_build(version_of(trt), "fp32", **options)
    built, _ = build_engine(path, plan, shape, requested, calibration, timing)
    return built


def calibration_set(tmp_path: Path, count: int = 3, bad: int = -1, method: str = "entropy") -> Any:
    import cv2

    from edgeunet.core.spec import ModelSpec
    from edgeunet.trt.calibration import CalibrationSet

    folder = tmp_path / "calib"
    folder.mkdir(exist_ok=True)
    images: List[Path] = []
    for i in range(count):
        path = folder / f"img{i}.png"
        if i == bad:
            path.write_bytes(b"this is not a png")
        else:
            cv2.imwrite(str(path), (np.random.RandomState(i).rand(8, 8) * 255).astype(np.uint8))
        images.append(path)
    spec = ModelSpec(in_channels=1, input_size=[8, 8])
    return CalibrationSet(images, spec, method, tmp_path / f"c.{method}.cache", tmp_path / f"c.{method}.json", "0" * 64)


@pytest.mark.parametrize("trt", ALL, indirect=True)
def test_build_engine_and_runner_match_onnxruntime(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.plan import parse_shapes
    from edgeunet.trt.runner import EngineRunner

    path = write_onnx(tmp_path, M.conv_relu())
    built = build(trt, path, requested=parse_shapes("1x1x8x8,2x1x8x8,4x1x8x8"))
    assert built.input_name == "input" and built.input_shape == (-1, 1, 8, 8) and built.timing_cache
    runner = EngineRunner(built.plan_bytes)
    try:
        for batch in (2, 1, 4):
            x = np.random.RandomState(batch).randn(batch, 1, 8, 8).astype(np.float32)
            np.testing.assert_allclose(runner.infer({"input": x})["logits"], reference(path, x), rtol=1e-6, atol=1e-6)
    finally:
        runner.close()
    assert state().executions == 3 and state().timing_cache == ["created-empty", "set-accepted"]
    from edgeunet.core.errors import EdgeUnetError

    with pytest.raises(EdgeUnetError, match="outside the engine's profile"):
        EngineRunner(built.plan_bytes).infer({"input": np.zeros((8, 1, 8, 8), np.float32)})


@pytest.mark.parametrize("trt", ALL, indirect=True)
def test_selftest_build_and_run(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.selftest import build_and_run

    path = write_onnx(tmp_path, M.conv_relu())
    x = np.random.RandomState(0).randn(1, 1, 8, 8).astype(np.float32)
    result = build_and_run(path, {"input": x}, runs=3, warmup=1)
    np.testing.assert_allclose(result.outputs["logits"], reference(path, x), rtol=1e-6, atol=1e-6)
    assert result.tensorrt_version == trt.__version__ and result.gpu_name == "NVIDIA Emulated GPU"
    assert result.compute_capability == (8, 7) and len(result.latencies_ms) == 3


def test_engine_from_another_version_is_a_user_error(tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError

    path = write_onnx(tmp_path, M.conv_relu(batch=1))
    with installed("8.6", purge=PURGE) as trt:
        blob = build(trt, path).plan_bytes
    with installed("10.3", purge=PURGE):
        from edgeunet.trt.runner import EngineRunner

        with pytest.raises(EdgeUnetError, match="could not load this engine"):
            EngineRunner(blob)


@pytest.mark.parametrize("trt", IMPLICIT, indirect=True)
@pytest.mark.parametrize("method", ["entropy", "minmax"])
def test_implicit_calibrators(trt: Any, tmp_path: Path, method: str) -> None:
    from edgeunet.trt.calibration import parse_calibration_cache
    from edgeunet.trt.runner import EngineRunner

    path = write_onnx(tmp_path, M.conv_relu(batch=1))
    calib = calibration_set(tmp_path, method=method)
    built = build(trt, path, int8=True, calibrator=method, calibration=calib)
    rec = state()
    assert rec.calibrator_calls[:2] == ["read_calibration_cache", "get_batch_size"] and rec.batches_fed == 3
    assert rec.calibrator_calls[-1] == "write_calibration_cache" and not rec.calibrator_errors
    text = calib.cache_path.read_text()
    assert text.startswith("TRT-") and ("MinMaxCalibration" if method == "minmax" else "EntropyCalibration2") in text.splitlines()[0]
    assert set(parse_calibration_cache(text)) >= {"input", "logits"}
    x = next(calib.batches())  # inside the calibrated range: fake quantization at the input stays close
    runner = EngineRunner(built.plan_bytes)
    np.testing.assert_allclose(runner.infer({"input": x})["logits"], reference(path, x), atol=0.1)
    runner.close()
    rec.calibrator_calls.clear()
    build(trt, path, int8=True, calibrator=method, calibration=calib)
    assert state().calibrator_calls == ["read_calibration_cache"]  # the manifest matches: the cache is used


def test_tensorrt_and_pycuda_versions_under_the_emulator() -> None:
    from edgeunet.trt import pycuda_version, tensorrt_version

    with installed("10.3", purge=PURGE):
        assert tensorrt_version() == "10.3.0" and "trtsim" in str(pycuda_version())


# -- defects of issue 12 shown by the emulator, fixed ------------------------------------------------------
# issue 12 defect 5 (fixed; failed before the fix): a get_batch exception (unreadable calibration image) is swallowed by TensorRT's trampoline;
#   edgeunet does not record and re-raise it, so calibration silently ends after the good images
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_bad_calibration_image_fails_the_build(trt: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError

    path = write_onnx(tmp_path, M.conv_relu(batch=1))
    with pytest.raises(EdgeUnetError, match="img1"):
        build(trt, path, int8=True, calibrator="entropy", calibration=calibration_set(tmp_path, bad=1))


# issue 12 defect 6 (fixed; failed before the fix): the calibrator always feeds one image (batch 1), but a static batch-N ONNX needs a whole batch of
#   N per get_batch pointer; TensorRT reads past the buffer (emulator: out of bounds, build fails)
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_static_batch_onnx_calibrates(trt: Any, tmp_path: Path) -> None:
    path = write_onnx(tmp_path, M.conv_relu(batch=2))
    build(trt, path, shape=(2, 1, 8, 8), int8=True, calibrator="entropy", calibration=calibration_set(tmp_path, count=4))
    assert state().batches_fed == 2 and not state().messages("ERROR")  # 4 images in whole batches of 2


# issue 12 defect 7 (fixed; failed before the fix): set_timing_cache's False (cache from another GPU/version) is ignored, then get_timing_cache() is
#   None and serialize_timing_cache raises a raw AttributeError
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_timing_cache_from_another_gpu(trt: Any, tmp_path: Path) -> None:
    path = write_onnx(tmp_path, M.conv_relu(batch=1))
    cache = build(trt, path).timing_cache
    configure_gpu(name="NVIDIA Other GPU", compute_capability=(8, 6))
    built = build(trt, path, timing_cache=cache)
    assert built.timing_cache and "set-rejected" in state().timing_cache
    assert built.notes == ["the --timing-cache file was made by another TensorRT version or GPU; building with a new one"]


# issue 12 defect 9 (fixed; failed before the fix): EngineRunner never sets runtime.DLA_core, so an engine built for DLA core 1 is deserialized onto
#   the runtime's default core (0)
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_dla_engine_runs_on_its_core(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.runner import EngineRunner

    configure_gpu(dla_cores=2)
    path = write_onnx(tmp_path, M.conv_relu(batch=1))
    built = build(trt, path, fp16=True, dla_core=1)
    EngineRunner(built.plan_bytes, dla_core=1).close()  # TensorRTBackend passes the core recorded in the sidecar
    assert state().engine_dla_cores == [1]


# issue 12 defect 10 (fixed; failed before the fix): a new trt.Logger per builder and per runtime; TensorRT keeps the first one process-wide and warns
#   that the logger passed in differs
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_one_logger_for_builder_and_runtime(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.runner import EngineRunner

    built = build(trt, write_onnx(tmp_path, M.conv_relu(batch=1)))
    EngineRunner(built.plan_bytes).close()
    assert not any("differs from one already provided" in m for m in state().messages("WARNING"))


# issue 12 defect 10 (fixed; failed before the fix): EngineRunner.close() is not idempotent (the second call deletes self.context again:
#   AttributeError)
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runner_close_twice(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.runner import EngineRunner
    from tests.trtsim import live_allocations

    runner = EngineRunner(build(trt, write_onnx(tmp_path, M.conv_relu(batch=1))).plan_bytes)
    runner.infer({"input": np.zeros((1, 1, 8, 8), np.float32)})
    assert len(live_allocations()) == 2  # input and output
    runner.close()
    freed = state().frees
    assert live_allocations() == [] and freed == 2 and not any(hasattr(runner, n) for n in ("context", "engine", "_runtime"))
    runner.close()
    assert state().frees == freed


# issue 12 defect 10 (fixed; failed before the fix): the calibrator's device buffer is never freed explicitly (only when the calibrator object is
#   garbage-collected)
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_calibration_buffer_is_freed(trt: Any, tmp_path: Path) -> None:
    from tests.trtsim import live_allocations

    build(trt, write_onnx(tmp_path, M.conv_relu(batch=1)), int8=True, calibrator="entropy", calibration=calibration_set(tmp_path))
    assert live_allocations() == [] and state().frees == state().allocations == 1  # freed by the build, not left to GC
    gc.collect()
    assert state().frees_by_gc == 0


# issue 12 defect 10 (fixed; failed before the fix): a raw exception escapes EngineRunner: infer() after close() raises AttributeError instead of an
#   EdgeUnetError
@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runner_infer_after_close(trt: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.runner import EngineRunner

    runner = EngineRunner(build(trt, write_onnx(tmp_path, M.conv_relu(batch=1))).plan_bytes)
    runner.close()
    with pytest.raises(EdgeUnetError, match=r"^engine: the engine was closed; open it again$"):
        runner.infer({"input": np.zeros((1, 1, 8, 8), np.float32)})


# issue 12 defect 10 (fixed; failed before the fix): an OSError from a half-installed TensorRT (libnvinfer missing) escapes import_tensorrt_version /
#   EngineRunner, which catch ImportError only
def test_half_installed_tensorrt_is_a_missing_dependency() -> None:
    from edgeunet.core.errors import MissingDependencyError

    with installed("10.3", purge=PURGE, broken_import="libnvinfer.so.10: cannot open shared object file: No such file or directory"):
        from edgeunet.trt.build import import_tensorrt_version

        with pytest.raises(MissingDependencyError):
            import_tensorrt_version()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_runner_works_from_a_worker_thread(trt: Any, tmp_path: Path) -> None:
    """The primary context pushed per call (edgeunet/trt/cuda.py) makes the runner usable from any thread."""
    import threading

    from edgeunet.trt.runner import EngineRunner
    from tests.trtsim import assert_clean

    path = write_onnx(tmp_path, M.conv_relu(batch=1))
    runner = EngineRunner(build(trt, path).plan_bytes)
    x = np.random.RandomState(3).randn(1, 1, 8, 8).astype(np.float32)
    results: List[np.ndarray] = []
    thread = threading.Thread(target=lambda: results.append(runner.infer({"input": x})["logits"]))
    thread.start()
    thread.join()
    np.testing.assert_allclose(results[0], reference(path, x), rtol=1e-6, atol=1e-6)
    runner.close()
    assert_clean()
