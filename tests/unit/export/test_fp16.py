"""`edgeunet convert --fp16`: an fp16-typed graph with fp32 I/O, the source's metadata kept, refusals before work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_PRECISION, KEY_SOURCE_SHA, read_metadata, read_spec
from edgeunet.data.synth import make_dataset
from edgeunet.export.fp16 import _fix_casts_to_float, convert_and_gate, convert_fp16
from tests.unit.tiny_graphs import threshold_onnx

pytest.importorskip("onnxconverter_common", reason="fp16 conversion needs onnxconverter-common")


def _run(path: Path, batch: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": batch})[0])


def test_fp16_weights_fp32_io_same_outputs_and_metadata(tmp_path: Path) -> None:
    source = threshold_onnx(tmp_path / "m.onnx")
    out = convert_fp16(source, tmp_path / "m.fp16.onnx")
    model = onnx.load(str(out))
    assert {init.data_type for init in model.graph.initializer} == {TensorProto.FLOAT16}
    io_types = [v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.output]]
    assert io_types == [TensorProto.FLOAT, TensorProto.FLOAT]  # the same preprocess feeds every precision
    meta = read_metadata(model)
    assert meta[KEY_PRECISION] == "fp16" and meta[KEY_SOURCE_SHA] == sha256_file(source)
    assert read_spec(out) == read_spec(source)
    batch = np.random.default_rng(0).normal(size=(1, 1, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(_run(out, batch), _run(source, batch), atol=2e-2)


def test_refusals_leave_no_file(tmp_path: Path) -> None:
    source = threshold_onnx(tmp_path / "m.onnx")
    with pytest.raises(EdgeUnetError, match="must end in .onnx"):
        convert_fp16(source, tmp_path / "m.fp16")
    with pytest.raises(EdgeUnetError, match="would overwrite the fp32 model"):
        convert_fp16(source, tmp_path / "." / "m.onnx")
    already = threshold_onnx(tmp_path / "h.onnx", precision="fp16")
    with pytest.raises(EdgeUnetError, match="is already fp16"):
        convert_fp16(already, tmp_path / "h2.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.onnx", "m.onnx"]


def test_gate_arguments_are_checked_before_converting(tmp_path: Path) -> None:
    source = threshold_onnx(tmp_path / "m.onnx")
    with pytest.raises(EdgeUnetError, match="--max-drop -1"):
        convert_and_gate(source, tmp_path / "o.onnx", max_drop=-1)
    with pytest.raises(EdgeUnetError, match="no validation images known"):  # gated, but no --val-data and no recorded split
        convert_and_gate(source, tmp_path / "o.onnx")
    assert not (tmp_path / "o.onnx").exists()


def test_convert_and_gate_passes_on_a_pixelwise_model(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "cells", count=3, size=32, seed=0)
    path, result = convert_and_gate(threshold_onnx(tmp_path / "m.onnx"), tmp_path / "m.fp16.onnx", val_data=data)
    assert path.is_file() and result is not None and result.passed and result.images == 3
    assert result.val_source == str(data) and abs(result.drop) <= 0.01
    path, result = convert_and_gate(tmp_path / "m.onnx", tmp_path / "ungated.onnx", gate=False)
    assert path.is_file() and result is None


def test_graph_casts_to_float_follow_the_converted_type() -> None:
    """The uint8 -> float Cast at the start of an --io uint8 graph: its `to` must agree with the fp16 value it feeds."""
    cast = helper.make_node("Cast", ["x"], ["y"], name="graph_cast", to=TensorProto.FLOAT)
    inserted = helper.make_node("Cast", ["y"], ["z"], name="converter_cast", to=TensorProto.FLOAT)
    graph = helper.make_graph([cast, inserted], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])],
                              value_info=[helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1]),
                                          helper.make_tensor_value_info("z", TensorProto.FLOAT16, [1])])
    model = helper.make_model(graph)
    _fix_casts_to_float(model, {"graph_cast"})
    assert [node.attribute[0].i for node in model.graph.node] == [TensorProto.FLOAT16, TensorProto.FLOAT]
