"""Tiny ONNX models for the emulator tests, made with onnx.helper (no files in the repo)."""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper

Dim = Union[int, str]


def _model(nodes: list, inputs: list, outputs: list, inits: Optional[list] = None, opset: int = 17) -> ModelProto:
    graph = helper.make_graph(nodes, "trtsim", inputs, outputs, inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="trtsim")
    model.ir_version = 8
    return model


def conv_relu(batch: Dim = "N", channels: int = 1, size: int = 8, classes: int = 2, seed: int = 0) -> ModelProto:
    """input [N,C,H,W] -> Conv 3x3 (pad 1) -> Relu -> logits [N,classes,H,W]."""
    rng = np.random.RandomState(seed)
    weight = numpy_helper.from_array(rng.randn(classes, channels, 3, 3).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.randn(classes).astype(np.float32), "b")
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, channels, size, size])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes, size, size])
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["conv"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["conv"], ["logits"])]
    return _model(nodes, [x], [y], [weight, bias])


def qdq(zero_point: int = 0, shape: Sequence[int] = (1, 1, 4, 4)) -> ModelProto:
    """input -> QuantizeLinear -> DequantizeLinear -> Relu (explicit INT8)."""
    scale = numpy_helper.from_array(np.array(0.05, dtype=np.float32), "scale")
    zero = numpy_helper.from_array(np.array(zero_point, dtype=np.int8), "zero")
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, list(shape))
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "scale", "zero"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"]),
        helper.make_node("Relu", ["dq"], ["out"]),
    ]
    return _model(nodes, [x], [y], [scale, zero])


def uint8_cast(to: int, shape: Sequence[int] = (1, 4, 4, 1)) -> ModelProto:
    """uint8 input -> Cast(to) -> output of that type."""
    x = helper.make_tensor_value_info("input", TensorProto.UINT8, list(shape))
    y = helper.make_tensor_value_info("out", to, list(shape))
    return _model([helper.make_node("Cast", ["input"], ["out"], to=to)], [x], [y])


def resize(mode: str) -> ModelProto:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1, 8, 8])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    node = helper.make_node("Resize", ["input", "", "scales"], ["out"], mode=mode)
    return _model([node], [x], [y], [scales])


def single(op: str, names: List[str] = ("input",), opset: int = 17) -> ModelProto:  # type: ignore[assignment]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])
    return _model([helper.make_node(op, list(names), ["out"])], [x], [y], opset=opset)
