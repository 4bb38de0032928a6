"""Metadata, spec reading, provider choice, calibration sampling and small helpers (no torch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_PRECISION, KEY_SPEC, read_metadata, read_spec, save_onnx, set_metadata
from edgeunet.core.spec import ModelSpec
from edgeunet.data.splits import sample_images
from edgeunet.evaluate.gate import rejected_name
from edgeunet.evaluate.infer import class_areas, collect_inputs
from edgeunet.export.quantize import _stride, default_output
from edgeunet.runtime.ort_backend import choose_providers


def _identity(path: Path, spec: ModelSpec | None = None) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 16, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 16, 16])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if spec is not None:
        set_metadata(model, {KEY_SPEC: spec.to_json(), KEY_PRECISION: "fp32"})
    onnx.save(model, str(path))
    return path


def test_spec_round_trips_through_metadata(tmp_path: Path) -> None:
    spec = ModelSpec(in_channels=3, num_classes=3, class_names=["bg", "a", "b"], input_size=[32, 48], channel_order="rgb",
                     mean=[0.1, 0.2, 0.3], std=[0.5, 0.5, 0.5], io="uint8")
    path = _identity(tmp_path / "m.onnx", spec)
    assert read_spec(path) == spec
    model = onnx.load(str(path))
    set_metadata(model, {KEY_PRECISION: "int8", "edgeunet.gate": {"passed": True}})
    save_onnx(model, tmp_path / "m2.onnx")
    meta = read_metadata(onnx.load(str(tmp_path / "m2.onnx")))
    assert meta[KEY_PRECISION] == "int8" and meta["edgeunet.gate"] == '{"passed": true}' and KEY_SPEC in meta


def test_foreign_onnx_and_non_onnx_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="without edgeunet metadata"):
        read_spec(_identity(tmp_path / "foreign.onnx"))
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(EdgeUnetError, match="not"):
        read_spec(tmp_path / "text.onnx")
    with pytest.raises(EdgeUnetError, match="no such ONNX file"):
        read_spec(tmp_path / "missing.onnx")
    with pytest.raises(EdgeUnetError, match="is a folder"):
        read_spec(tmp_path)


def test_save_refuses_wrong_suffix_and_leaves_nothing(tmp_path: Path) -> None:
    model = onnx.load(str(_identity(tmp_path / "m.onnx", ModelSpec())))
    with pytest.raises(EdgeUnetError, match=r"\.onnx"):
        save_onnx(model, tmp_path / "model.txt")
    assert not (tmp_path / "model.txt").exists() and not list(tmp_path.glob(".*.tmp"))


def test_provider_choice() -> None:
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    full = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("auto", full) == full
    assert choose_providers("cpu", full) == ["CPUExecutionProvider"]
    assert choose_providers("cuda:1", full)[0] == ("CUDAExecutionProvider", {"device_id": 1})
    with pytest.raises(EdgeUnetError, match="onnxruntime-gpu"):
        choose_providers("cuda", ["CPUExecutionProvider"])
    with pytest.raises(EdgeUnetError, match="choose auto, cpu"):
        choose_providers("gpu0", full)


def test_calibration_sampling_is_seeded_and_excludes(tmp_path: Path) -> None:
    import cv2

    for i in range(10):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 8), i, np.uint8))
    a = sample_images(tmp_path, 4, seed=1)
    assert a == sample_images(tmp_path, 4, seed=1) and len(a) == 4
    assert a != sample_images(tmp_path, 4, seed=2)
    assert len(sample_images(tmp_path, 100, seed=0)) == 10
    rest = sample_images(tmp_path, 100, seed=0, exclude=[tmp_path / "3.png"])
    assert len(rest) == 9 and tmp_path / "3.png" not in rest
    with pytest.raises(EdgeUnetError, match="validation image"):
        sample_images(tmp_path, 4, seed=0, exclude=list(tmp_path.glob("*.png")))


def test_names_and_strides() -> None:
    assert rejected_name(Path("r/model.int8.onnx")) == Path("r/model.int8.rejected.onnx")
    assert default_output(Path("r/best.onnx"), "fp16") == Path("r/best.fp16.onnx")
    assert [_stride(n) for n in (1, 7, 24, 64, 30)] == [1, 7, 8, 8, 6]


def test_class_areas_and_inputs(tmp_path: Path) -> None:
    mask = np.zeros((4, 5), np.uint8)
    mask[0, :] = 1
    areas = class_areas(mask, ["background", "cell"])
    assert areas["pixels"] == {"background": 15, "cell": 5} and areas["size"] == [4, 5]
    assert abs(sum(areas["fraction"].values()) - 1) < 1e-6
    with pytest.raises(EdgeUnetError, match="no such file or folder"):
        collect_inputs([tmp_path / "nope.png"])
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(EdgeUnetError, match="not an image file"):
        collect_inputs([tmp_path / "a.txt"])


def test_edge_modules_do_not_import_torch() -> None:
    code = (
        "import sys; import edgeunet.export.quantize, edgeunet.export.inspect, edgeunet.runtime.ort_backend, edgeunet.evaluate.infer, "
        "edgeunet.export.onnx_export, edgeunet.core.onnx_model; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_preprocess_refuses_odd_channel_counts_and_takes_bgra() -> None:
    from edgeunet.core.processing import preprocess

    spec = ModelSpec(input_size=[16, 16])
    with pytest.raises(EdgeUnetError, match="expected gray"):
        preprocess(np.zeros((16, 16, 2), np.uint8), spec)
    assert preprocess(np.zeros((16, 16, 4), np.uint8), spec).shape == (1, 1, 16, 16)
