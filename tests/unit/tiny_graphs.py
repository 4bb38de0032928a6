"""Hand-built edgeunet ONNX models for unit tests: milliseconds to make, no training, no torch.

`threshold_onnx` is a binary segmenter with two quantizable layers (Conv 3x3 -> Relu -> Conv 1x1) whose logit is minus
the normalised pixel value: on synthetic cells (data/synth.py) it scores Dice ~0.5, so the accuracy gate, INT8
calibration and layer sensitivity have real, non-trivial numbers to work with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeunet.core.onnx_model import KEY_PRECISION, KEY_SPEC, set_metadata
from edgeunet.core.spec import ModelSpec


def tiny_spec(size: int = 32) -> ModelSpec:
    return ModelSpec(in_channels=1, num_classes=2, input_size=[size, size], mean=[0.3], std=[0.25])


def threshold_onnx(
    path: Path, spec: Optional[ModelSpec] = None, batch: Any = 1, extra: Optional[Dict[str, Any]] = None,
    precision: str = "fp32", dynamic_hw: bool = False,
) -> Path:
    """Binary model: logit = -(preprocessed pixel), as relu(-x) - relu(x); `batch` may be a name, `dynamic_hw`
    makes height and width symbolic (what tiled and native-size inference need)."""
    spec = spec or tiny_spec()
    height, width = ("height", "width") if dynamic_hw else spec.input_size
    first = np.zeros((2, 1, 3, 3), np.float32)
    first[0, 0, 1, 1], first[1, 0, 1, 1] = 1.0, -1.0
    second = np.array([-1.0, 1.0], np.float32).reshape(1, 2, 1, 1)
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], name="/enc/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="/enc/Relu"),
        helper.make_node("Conv", ["r1", "w2"], ["output"], name="/head/Conv"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, height, width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 1, height, width])],
        [numpy_helper.from_array(first, "w1"), numpy_helper.from_array(second, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    set_metadata(model, {KEY_SPEC: spec.to_json(), KEY_PRECISION: precision, **(extra or {})})
    onnx.save(model, str(path))
    return path



def qdq_onnx(path: Path, input_scale: float = 0.5, hidden_scale: float = 0.01, spec: Optional[ModelSpec] = None,
             zero_point: int = 0) -> Path:
    """`threshold_onnx` as an INT8 Q/DQ graph: Q/DQ on each Conv's activation input and weight.

    `input_scale` (the first layer's input step) and `hidden_scale` (the second's) set how much each layer loses, so
    a test knows which layer sensitivity must rank first. A non-zero `zero_point` makes a graph TensorRT rejects.
    """
    spec = spec or tiny_spec()
    threshold_onnx(path, spec)
    model = onnx.load(str(path))
    graph = model.graph
    graph.initializer.extend([
        numpy_helper.from_array(np.array(input_scale, np.float32), "s_in"),
        numpy_helper.from_array(np.array(hidden_scale, np.float32), "s_hid"),
        numpy_helper.from_array(np.array(1 / 127, np.float32), "s_w"),
        numpy_helper.from_array(np.array(zero_point, np.int8), "zp"),
    ])
    pairs = [("input", "s_in"), ("r1", "s_hid"), ("w1", "s_w"), ("w2", "s_w")]
    qdq = []
    for tensor, scale in pairs:
        qdq.append(helper.make_node("QuantizeLinear", [tensor, scale, "zp"], [f"{tensor}_q"], name=f"{tensor}_QuantizeLinear"))
        qdq.append(helper.make_node("DequantizeLinear", [f"{tensor}_q", scale, "zp"], [f"{tensor}_dq"],
                                    name=f"{tensor}_DequantizeLinear"))
    nodes = list(graph.node)
    for node in nodes:
        if node.op_type == "Conv":
            node.input[0], node.input[1] = f"{node.input[0]}_dq", f"{node.input[1]}_dq"
    del graph.node[:]
    graph.node.extend([*qdq[:2], *qdq[4:], nodes[0], nodes[1], *qdq[2:4], nodes[2]])
    set_metadata(model, {KEY_PRECISION: "int8"})
    onnx.save(model, str(path))
    return path
