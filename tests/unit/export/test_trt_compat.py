"""trt_compat: the per-version ONNX parser rules, on hand-built graphs (onnx.helper, no torch)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeunet.core.errors import EdgeUnetError
from edgeunet.export.trt_compat import RULES_FILE, check_model, require_compatible, resolve_target

F, U8, B = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.BOOL


def _model(nodes: List[Any], inputs: List[Any], outputs: List[Any], inits: Optional[List[Any]] = None, opset: int = 17) -> Any:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name: str, elem: int, shape: List[int]) -> Any:
    return helper.make_tensor_value_info(name, elem, shape)


def _uint8_model(good: bool) -> Any:
    """uint8 NHWC in -> threshold -> uint8 mask out; `good` casts through FLOAT as TensorRT requires."""
    cut = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "cut")
    if good:
        nodes = [helper.make_node("Cast", ["x"], ["xf"], "/Cast", to=F),
                 helper.make_node("Transpose", ["xf"], ["t"], "/Transpose", perm=[0, 3, 1, 2])]
    else:
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], "/Transpose", perm=[0, 3, 1, 2]),
                 helper.make_node("Cast", ["xt"], ["t"], "/Cast", to=F)]
    nodes.append(helper.make_node("Greater", ["t", "cut"], ["g"], "/Greater"))
    if good:
        nodes += [helper.make_node("Cast", ["g"], ["gf"], "/Cast_2", to=F), helper.make_node("Cast", ["gf"], ["y"], "/Cast_3", to=U8)]
    else:
        nodes.append(helper.make_node("Cast", ["g"], ["y"], "/Cast_3", to=U8))
    return _model(nodes, [_vi("x", U8, [1, 4, 4, 1])], [_vi("y", U8, [1, 1, 4, 4])], [cut])


def _relu_model(opset: int = 17) -> Any:
    return _model([helper.make_node("Relu", ["x"], ["y"], "/Relu")], [_vi("x", F, [1, 1, 4, 4])], [_vi("y", F, [1, 1, 4, 4])], opset=opset)


def test_rules_file_holds_the_three_matrices() -> None:
    import json

    matrices = json.loads(RULES_FILE.read_text(encoding="utf-8"))["matrices"]
    assert sorted(matrices) == ["10.1", "8.5", "8.6"]
    assert matrices["10.1"]["opset_min"] == 9 and matrices["10.1"]["opset_max"] == 20 and matrices["8.5"]["opset_max"] == 17


def test_clean_graph_passes_every_version() -> None:
    for version in ("8.5", "8.6", "10.3", "11"):
        assert check_model(_relu_model(), version).problems == []


def test_bool_to_uint8_cast_and_uint8_transpose_are_named() -> None:
    problems = check_model(_uint8_model(good=False), "10.3").problems
    text = "\n".join(problems)
    assert "Cast /Cast_3: BOOL -> UINT8 is not supported by TensorRT 10.3" in text
    assert "Transpose /Transpose: reads the UINT8 input 'x' directly" in text
    assert len(problems) == 2


def test_uint8_through_float_passes_10_and_8_6_but_not_8_5() -> None:
    assert check_model(_uint8_model(good=True), "10.3").problems == []
    assert check_model(_uint8_model(good=True), "8.6").problems == []
    problems = check_model(_uint8_model(good=True), "8.5").problems
    assert problems and all("TensorRT 8.5's ONNX parser has no UINT8 type" in p for p in problems)


def test_int64_to_uint8_cast_is_named() -> None:
    nodes = [helper.make_node("ArgMax", ["x"], ["a"], "/ArgMax", axis=1, keepdims=0),
             helper.make_node("Cast", ["a"], ["y"], "/Cast_1", to=U8)]
    model = _model(nodes, [_vi("x", F, [1, 3, 4, 4])], [_vi("y", U8, [1, 4, 4])])
    assert any(p.startswith("Cast /Cast_1: INT64 -> UINT8 is not supported") for p in check_model(model, "11").problems)


def test_nonzero_zero_point_and_per_channel_activation_are_named() -> None:
    inits = [numpy_helper.from_array(np.array([0.1, 0.2], dtype=np.float32), "s"),
             numpy_helper.from_array(np.array([0, 3], dtype=np.int8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], "/Q", axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], "/DQ", axis=1)]
    model = _model(nodes, [_vi("x", F, [1, 2, 4, 4])], [_vi("y", F, [1, 2, 4, 4])], inits)
    text = "\n".join(check_model(model, "10.3").problems)
    assert "QuantizeLinear /Q: 1 non-zero zero point(s)" in text
    assert "QuantizeLinear /Q: per-channel (axis 1, 2 channels) quantization of activation x" in text
    assert check_model(model, "10.3", qdq=False).problems == []


def test_unsupported_op_is_named() -> None:
    model = _model([helper.make_node("BitShift", ["x", "x"], ["y"], "/BitShift", direction="LEFT")],
                   [_vi("x", TensorProto.UINT32, [4])], [_vi("y", TensorProto.UINT32, [4])])
    assert any(p.startswith("BitShift /BitShift: BitShift is not supported by TensorRT 10.3") for p in check_model(model, "10.3").problems)


def test_op_added_after_8_5_is_a_version_difference() -> None:
    # LayerNormalization: absent from the 8.5 matrix, Y in 10.1.
    inits = [numpy_helper.from_array(np.ones(4, dtype=np.float32), "w")]
    model = _model([helper.make_node("LayerNormalization", ["x", "w"], ["y"], "/LN")],
                   [_vi("x", F, [1, 4])], [_vi("y", F, [1, 4])], inits)
    assert check_model(model, "10.3").problems == []
    assert any("LayerNormalization /LN: LayerNormalization is not supported by TensorRT 8.5" in p for p in check_model(model, "8.5").problems)


def test_opset_range_per_version() -> None:
    assert any(p.startswith("opset 18: TensorRT 8.5's ONNX parser takes opset 1..17") for p in check_model(_relu_model(18), "8.5").problems)
    assert check_model(_relu_model(18), "10.3").problems == []


def test_resize_mode_outside_the_matrix_is_named() -> None:
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")]
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], "/Resize", mode="cubic")
    model = _model([node], [_vi("x", F, [1, 1, 4, 4])], [_vi("y", F, [1, 1, 8, 8])], inits)
    assert any("Resize /Resize: mode='cubic' is not supported by TensorRT 10.3" in p for p in check_model(model, "10.3").problems)


def test_tensorrt_11_notes_the_missing_implicit_route() -> None:
    notes = "\n".join(check_model(_relu_model(), "11").notes)
    assert "no implicit calibration" in notes and "fp16-typed graph" in notes
    assert check_model(_relu_model(), "10.3").notes == []


@pytest.mark.parametrize("text, matrix", [("8.5", "8.5"), ("8.6.1", "8.6"), ("10.3.0.26", "10.1"), ("11", "10.1")])
def test_versions_map_to_matrices(text: str, matrix: str) -> None:
    assert resolve_target(text).matrix == matrix


@pytest.mark.parametrize("bad", ["7", "8.2", "abc", ""])
def test_bad_version_is_one_line(bad: str) -> None:
    with pytest.raises(EdgeUnetError, match="no TensorRT rules for this version"):
        resolve_target(bad)


def test_require_compatible_refuses_with_tensorrt_and_warns_without(tmp_path: Path) -> None:
    bad = _uint8_model(good=False)
    with pytest.raises(EdgeUnetError, match=r"Cast /Cast_3: BOOL -> UINT8 .* \(and 1 more: `edgeunet inspect"):
        require_compatible(tmp_path / "m.onnx", bad, "10.3.0")
    err = io.StringIO()
    with redirect_stderr(err):
        version, problems = require_compatible(tmp_path / "m.onnx", bad, None)
    assert version == "10.3" and len(problems) == 2 and "TensorRT not installed: checked for 10.3" in err.getvalue()
    assert require_compatible(tmp_path / "m.onnx", _relu_model(), "8.5.3.1") == ("8.5.3.1", [])
