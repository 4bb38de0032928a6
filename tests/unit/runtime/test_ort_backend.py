"""The ONNX Runtime backend: the shared contract on an .onnx file, provider choice, session options, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_PRECISION, load_onnx, save_onnx, set_metadata
from edgeunet.runtime import ort_backend
from edgeunet.runtime.base import load_backend
from tests.unit.runtime.backend_contract import BackendContract

CPU = "CPUExecutionProvider"


class TestOrtContract(BackendContract):
    name = "onnxruntime"

    @pytest.fixture
    def model_path(self, tiny_dyn_onnx: Path) -> Path:
        return tiny_dyn_onnx


def test_providers_for_each_device() -> None:
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]
    assert ort_backend.choose_providers("auto", gpu) == [*gpu]
    assert ort_backend.choose_providers("auto", [CPU]) == [CPU]
    assert ort_backend.choose_providers("cpu", gpu) == [CPU]
    assert ort_backend.choose_providers("cuda:1", gpu) == [("CUDAExecutionProvider", {"device_id": 1}), CPU]
    assert ort_backend.choose_providers("tensorrt", gpu)[:2] == [("TensorrtExecutionProvider", {"device_id": 0}),
                                                                 ("CUDAExecutionProvider", {"device_id": 0})]
    with pytest.raises(EdgeUnetError, match="choose auto, cpu"):
        ort_backend.choose_providers("npu", gpu)
    with pytest.raises(EdgeUnetError, match="has no CUDAExecutionProvider"):
        ort_backend.choose_providers("cuda", [CPU])


def test_session_options_refuse_bad_values() -> None:
    ort = ort_backend._ort()
    with pytest.raises(EdgeUnetError, match="--threads -1"):
        ort_backend.session_options(ort, -1)
    with pytest.raises(EdgeUnetError, match="choose from disable"):
        ort_backend.session_options(ort, None, "fastest")
    assert ort_backend.session_options(ort, 2, "basic", spinning=False).intra_op_num_threads == 2


def test_options_reach_the_session(tiny_dyn_onnx: Path) -> None:
    with load_backend(tiny_dyn_onnx, device="cpu", threads=1, opt_level="basic", spinning=False) as backend:
        assert backend.threads == 1 and backend.opt_level == "basic" and backend.device == CPU
        assert '"precision": "fp32"' in backend.describe()


def test_unknown_precision_is_refused_not_read_as_fp32(tiny_dyn_onnx: Path, tmp_path: Path) -> None:
    model = load_onnx(tiny_dyn_onnx)
    set_metadata(model, {KEY_PRECISION: "fp8"})
    odd = save_onnx(model, tmp_path / "odd.onnx")
    with pytest.raises(EdgeUnetError, match="fp8: unknown precision; known: fp32, fp16, int8"):
        load_backend(odd)


def test_not_an_onnx_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(EdgeUnetError, match="by ONNX Runtime"):
        load_backend(bad)


def test_an_end_to_end_model_with_overlay_returns_the_graphs_blended_frame(tmp_path: Path) -> None:
    """What lets `stream` skip its CPU overlay: the second output, as HxWx3 uint8, from the same single inference."""
    import numpy as np
    import onnxruntime as ort

    from edgeunet.export.end_to_end import FrameOptions, wrap
    from tests.unit.export.test_end_to_end import frames, network, rgb_spec

    spec = rgb_spec()
    for alpha, name in ((0.45, "overlay.onnx"), (None, "mask-only.onnx")):
        path = tmp_path / name
        save_onnx(wrap(network(spec, (32, 48)), spec, FrameOptions((64, 96), overlay_alpha=alpha)), path)
        frame = frames((64, 96), 1)[0]
        with load_backend(path, device="cpu") as backend:
            mask, view = backend.run_with_overlay(frame[None])
            assert np.array_equal(mask, backend.run(frame[None]))
        if alpha is None:
            assert view is None
            continue
        expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["overlay"], {"frame": frame[None]})[0][0]
        assert view is not None and view.shape == (64, 96, 3) and view.dtype == np.uint8 and np.array_equal(view, expected)
