"""edgeunet.runtime.trt_backend in-process under the emulator: sidecar first, then TensorRT; the engine's first output."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import pytest

from tests.trtsim import configure_gpu, live_allocations, state
from tests.trtsim import models as M
from tests.trtsim.test_edgeunet_trt import build, reference, write_onnx


def _engine(trt: Any, tmp_path: Path, precision: str = "fp32", dla_core: Optional[int] = None, **options: Any) -> Path:
    from edgeunet.core.atomic import sha256_file
    from edgeunet.trt.sidecar import SIDECAR_FORMAT, write_sidecar

    onnx_path = write_onnx(tmp_path, M.conv_relu(batch=1))
    built = build(trt, onnx_path, dla_core=dla_core, **options)
    engine = tmp_path / f"m.{precision}.engine"
    engine.write_bytes(built.plan_bytes)
    sidecar: Dict[str, Any] = {
        "format": SIDECAR_FORMAT, "engine_sha256": sha256_file(engine), "tensorrt_version": trt.__version__,
        "gpu": {"name": "NVIDIA Emulated GPU", "compute_capability": "8.7"}, "precision": precision,
        "spec": {"in_channels": 1, "input_size": [16, 16], "mean": [0.5], "std": [0.25]},
        "build_command": f"edgeunet build-engine {onnx_path}", "build": {"dla_core": dla_core},
    }
    write_sidecar(engine, sidecar)
    return engine


@pytest.mark.parametrize("trt", ["8.5", "10.3"], indirect=True)
def test_backend_runs_the_engine(trt: Any, tmp_path: Path) -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend

    engine = _engine(trt, tmp_path)
    backend = TensorRTBackend(engine, device="cuda:0")
    assert backend.name == "tensorrt" and backend.precision == "fp32" and backend.device == "cuda:0 (NVIDIA Emulated GPU)"
    assert backend.input_shape == [1, 1, 8, 8] and list(backend.spec.input_size) == [16, 16] and backend.phase_ms == {}
    x = np.random.RandomState(0).randn(1, 1, 8, 8).astype(np.float32)
    np.testing.assert_allclose(backend.run(x), reference(tmp_path / "tiny.onnx", x), rtol=1e-6, atol=1e-6)
    assert set(backend.phase_ms) == {"h2d", "compute", "d2h"}
    backend.close()
    assert backend.runner is None and backend.phase_ms == {} and live_allocations() == []
    backend.close()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_backend_checks_the_gpu_before_loading(trt: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.runtime.trt_backend import TensorRTBackend

    engine = _engine(trt, tmp_path)
    configure_gpu(name="NVIDIA Other GPU")
    with pytest.raises(EdgeUnetError, match=rf"^{engine}: built for GPU NVIDIA Emulated GPU sm 8.7 \(this machine: NVIDIA Other GPU sm 8.7\)"):
        TensorRTBackend(engine)
    assert state().engines_loaded == 0
    for device in ("auto", "cuda", "gpu", "tensorrt"):
        configure_gpu(name="NVIDIA Emulated GPU")
        TensorRTBackend(engine, device=device).close()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_backend_runs_a_dla_engine_on_its_core(trt: Any, tmp_path: Path) -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend

    configure_gpu(dla_cores=2)
    engine = _engine(trt, tmp_path, precision="fp16", dla_core=1, fp16=True)
    backend = TensorRTBackend(engine)
    assert backend.precision == "fp16"
    backend.close()
    assert state().engine_dla_cores == [1]


def _with_sidecar(trt: Any, engine: Path, blob: bytes) -> Path:
    """`engine` holding `blob`, with a sidecar that matches it (sha256, this TensorRT and GPU)."""
    from edgeunet.core.atomic import sha256_file
    from edgeunet.trt.sidecar import SIDECAR_FORMAT, write_sidecar

    engine.write_bytes(blob)
    write_sidecar(engine, {"format": SIDECAR_FORMAT, "engine_sha256": sha256_file(engine), "tensorrt_version": trt.__version__,
                           "gpu": {"name": "NVIDIA Emulated GPU", "compute_capability": "8.7"}, "precision": "fp32",
                           "spec": {"in_channels": 1, "input_size": [16, 16], "mean": [0.5], "std": [0.25]},
                           "build_command": "edgeunet build-engine m.onnx"})
    return engine


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_backend_errors_name_the_engine(trt: Any, tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.runtime.trt_backend import TensorRTBackend
    from tests.trtsim.test_emulator import build as raw_build

    damaged = _with_sidecar(trt, tmp_path / "damaged.engine", b"not an engine at all")
    with pytest.raises(EdgeUnetError, match=rf"^{damaged}: TensorRT could not load this engine"):
        TensorRTBackend(damaged)
    a, b = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("input", "other"))
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Add", ["input", "other"], ["out"])], "two", [a, b], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    two = _with_sidecar(trt, tmp_path / "two.engine", raw_build(trt, model) or b"")
    with pytest.raises(EdgeUnetError) as info:
        TensorRTBackend(two)
    assert str(info.value) == f"{two}: expected one input and at least one output; rebuild with `edgeunet build-engine m.onnx`"


def test_close_of_a_half_made_backend() -> None:
    from edgeunet.runtime.trt_backend import TensorRTBackend

    TensorRTBackend.__new__(TensorRTBackend).close()  # __init__ failed before the runner existed: close() still works
