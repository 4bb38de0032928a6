"""Q/DQ graph surgery (issue 14): which layers are quantized, a layer left in float, the float graph back."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeunet.core.errors import EdgeUnetError
from edgeunet.export.qdq_layers import check_layer_names, keep_float, quantized_layers, strip_qdq


def _qdq(name: str, scale: float, nodes: list, inits: list) -> str:
    inits += [numpy_helper.from_array(np.array(scale, np.float32), f"{name}_s"), numpy_helper.from_array(np.array(0, np.int8), f"{name}_z")]
    nodes += [helper.make_node("QuantizeLinear", [name, f"{name}_s", f"{name}_z"], [f"{name}_q"], name=f"{name}_Q"),
              helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_z"], [f"{name}_dq"], name=f"{name}_DQ")]
    return f"{name}_dq"


def _model() -> Any:
    """x -Q/DQ-> conv1 (W1 Q/DQ) -Q/DQ-> relu -Q/DQ-> conv2 (W2 Q/DQ) -Q/DQ-> y: two layers, coarse scales."""
    rng = np.random.default_rng(0)
    nodes: list = []
    inits = [numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(size=(1, 4, 3, 3)).astype(np.float32), "w2")]
    x = _qdq("x", 0.05, nodes, inits)
    nodes.append(helper.make_node("Conv", [x, _qdq("w1", 0.05, nodes, inits)], ["c1"], name="conv1", pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", [_qdq("c1", 0.1, nodes, inits)], ["r1"], name="relu"))
    nodes.append(helper.make_node("Conv", [_qdq("r1", 0.1, nodes, inits), _qdq("w2", 0.05, nodes, inits)], ["c2"], name="conv2", pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Identity", [_qdq("c2", 0.2, nodes, inits)], ["y"], name="out"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    onnx.checker.check_model(model)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _float_reference(x: np.ndarray) -> np.ndarray:
    model = _model()
    float_graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r1"]),
         helper.make_node("Conv", ["r1", "w2"], ["y"], pads=[1, 1, 1, 1])],
        "f", list(model.graph.input), list(model.graph.output), [i for i in model.graph.initializer if i.name in ("w1", "w2")])
    return _run(helper.make_model(float_graph, opset_imports=[helper.make_opsetid("", 17)]), x)


def test_layers_float_copy_and_strip() -> None:
    model = _model()
    x = np.random.default_rng(1).normal(size=(1, 1, 8, 8)).astype(np.float32)
    assert quantized_layers(model) == ["conv1", "conv2"]
    reference, quantized = _float_reference(x), _run(model, x)
    np.testing.assert_allclose(_run(strip_qdq(model), x), reference, rtol=1e-5, atol=1e-5)
    one = keep_float(model, ["conv2"])
    assert quantized_layers(one) == ["conv1"]
    conv2 = next(n for n in one.graph.node if n.name == "conv2")
    assert list(conv2.input[:2]) == ["r1", "w2"]  # float activation and float weight
    assert np.abs(_run(one, x) - reference).mean() < np.abs(quantized - reference).mean()
    both = keep_float(model, ["conv1", "conv2"])
    assert quantized_layers(both) == []
    np.testing.assert_allclose(_run(both, x), reference, rtol=1e-5, atol=1e-5)  # every Q/DQ pair bypassed
    assert len(model.graph.node) == len(_model().graph.node)  # the input model is untouched


def test_unknown_layer_names_list_valid_ones() -> None:
    with pytest.raises(EdgeUnetError, match=r"--keep-float nope: no such quantized layer; valid names \(2\) include conv1, conv2"):
        check_layer_names(_model(), ["nope"])
