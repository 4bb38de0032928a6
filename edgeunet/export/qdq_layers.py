"""Which layers of a Q/DQ graph are quantized, and the same graph with some of them left in float.

Why graph surgery instead of recalibrating with `nodes_to_exclude`: sensitivity analysis and the automatic
fallback try dozens of "this layer in float" variants; each recalibration would cost minutes and would move every
other layer's ranges too. Here a float layer simply reads the float tensors its Q/DQ pairs were made from (the
activation that fed the QuantizeLinear, the float weight that fed the weight's QuantizeLinear), while every other
layer keeps its calibrated scales. The result is still a Q/DQ graph TensorRT accepts: a layer without Q/DQ on its
inputs runs in FP16/FP32 (explicit quantization), and `edgeunet inspect --trt` checks it like any other.
No torch (edge path).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Sequence

from edgeunet.core.errors import EdgeUnetError

# Layers that carry the compute (and most of the quantization error worth measuring).
LAYER_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
# Also quantized (quantize.QUANTIZED_OPS): int8 data movement between them. They can clip too (a skip connection's
# range), so sensitivity measures them and the fallback may free them; otherwise "every layer in float" would
# still clip at their Q/DQ and could not reach the fp32 accuracy.
MOVEMENT_OPS = ("MaxPool", "Concat")


def _producers(model: Any) -> Dict[str, Any]:
    return {out: node for node in model.graph.node for out in node.output}


def quantized_layers(model: Any, ops: Sequence[str] = LAYER_OPS + MOVEMENT_OPS) -> List[str]:
    """Names of the `ops` nodes that read at least one DequantizeLinear output, in graph order."""
    producers = _producers(model)
    names = []
    for node in model.graph.node:
        if node.op_type in ops and any(
            (p := producers.get(name)) is not None and p.op_type == "DequantizeLinear" for name in node.input
        ):
            names.append(node.name)
    return names


def layer_outputs(model: Any, names: Iterable[str]) -> Dict[str, str]:
    """Node name -> its first output tensor (what SQNR is measured on)."""
    wanted = set(names)
    return {node.name: node.output[0] for node in model.graph.node if node.name in wanted}


def check_layer_names(model: Any, names: Sequence[str], option: str = "--keep-float") -> None:
    """Unknown names -> one line listing a few valid ones (node names differ between exporters; users copy them)."""
    valid = quantized_layers(model)
    unknown = [name for name in names if name not in valid]
    if unknown:
        shown = ", ".join(valid[:5]) + (", ..." if len(valid) > 5 else "")
        raise EdgeUnetError(
            f"{option} {','.join(unknown)}: no such quantized layer; valid names ({len(valid)}) include {shown} "
            "(all are listed by `edgeunet calibrate ... --sensitivity report.md`)"
        )


def _float_source(dq: Any, producers: Dict[str, Any], constants: Dict[str, Any], model: Any) -> str:
    """The float tensor a DequantizeLinear's value came from; a new float initializer if there is no QuantizeLinear."""
    q = producers.get(dq.input[0])
    if q is not None and q.op_type == "QuantizeLinear":
        return str(q.input[0])
    if dq.input[0] not in constants:  # an int8 graph input or similar: nothing float to go back to
        return str(dq.output[0])
    from onnx import numpy_helper

    values = constants[dq.input[0]].astype("float32")
    scale = constants[dq.input[1]].astype("float32")
    zero = constants[dq.input[2]].astype("float32") if len(dq.input) > 2 and dq.input[2] else 0.0
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    if getattr(scale, "ndim", 0) == 1 and values.ndim > 1:
        shape = [1] * values.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero = zero.reshape(shape) if hasattr(zero, "reshape") else zero
    name = f"{dq.input[0]}_float"
    if name not in constants:
        model.graph.initializer.append(numpy_helper.from_array((values - zero) * scale, name))
        constants[name] = values
    return name


def _unquantize_output(model: Any, tensor: str) -> None:
    """Bypass the Q -> DQ pair(s) right after `tensor`: its consumers read the float value (a graph output via Identity)."""
    from onnx import helper

    graph_outputs = {value.name for value in model.graph.output}
    quantizers = [node for node in model.graph.node if node.op_type == "QuantizeLinear" and node.input[0] == tensor]
    for q in quantizers:
        for dq in [node for node in model.graph.node if node.op_type == "DequantizeLinear" and node.input[0] == q.output[0]]:
            for node in model.graph.node:
                for i, name in enumerate(node.input):
                    if name == dq.output[0]:
                        node.input[i] = tensor
            if dq.output[0] in graph_outputs:  # keep the graph's output name
                index = list(model.graph.node).index(dq)
                model.graph.node.remove(dq)
                model.graph.node.insert(index, helper.make_node("Identity", [tensor], [dq.output[0]], name=f"{dq.name}_float"))


def keep_float(model: Any, names: Iterable[str]) -> Any:
    """A copy of `model` whose named layers compute in float: no Q/DQ on their inputs, weights or output.

    The output's Q/DQ pair is bypassed too, so the float result reaches the next op unrounded (the next
    quantized layer still quantizes its own input: its Q/DQ sits after the Relu/MaxPool/Concat in between).
    """
    from edgeunet.core.onnx_model import constant_values

    wanted = set(names)
    out = copy.deepcopy(model)
    if not wanted:
        return out
    producers = _producers(out)
    constants = constant_values(out)
    for node in out.graph.node:
        if node.name not in wanted:
            continue
        for i, name in enumerate(node.input):
            producer = producers.get(name)
            if producer is not None and producer.op_type == "DequantizeLinear":
                node.input[i] = _float_source(producer, producers, constants, out)
    for node in list(out.graph.node):
        if node.name in wanted and node.output:
            _unquantize_output(out, node.output[0])
    prune(out)
    return out


def strip_qdq(model: Any) -> Any:
    """A copy with every QuantizeLinear -> DequantizeLinear pair bypassed: the float graph, same tensor names."""
    out = copy.deepcopy(model)
    from edgeunet.core.onnx_model import constant_values

    producers = _producers(out)
    constants = constant_values(out)
    replace: Dict[str, str] = {}
    for node in out.graph.node:
        if node.op_type == "DequantizeLinear":
            source = _float_source(node, producers, constants, out)
            if source != node.output[0]:
                replace[node.output[0]] = source
    def resolve(name: str) -> str:
        seen = set()
        while name in replace and name not in seen:  # DQ -> Q -> DQ chains resolve to the first float tensor
            seen.add(name)
            name = replace[name]
        return name

    replace = {key: resolve(key) for key in replace}
    for node in out.graph.node:
        for i, name in enumerate(node.input):
            if name in replace:
                node.input[i] = replace[name]
    for value in out.graph.output:
        if value.name in replace:  # a graph output that is a DQ output: keep the name, feed it by an Identity
            from onnx import helper

            dq = next(node for node in out.graph.node if value.name in node.output)
            out.graph.node.remove(dq)
            out.graph.node.append(helper.make_node("Identity", [replace[value.name]], [value.name]))
    prune(out)
    return out


def prune(model: Any) -> None:
    """Remove nodes whose outputs nobody reads (repeatedly) and initializers nobody reads."""
    graph_outputs = {value.name for value in model.graph.output}
    while True:
        used = {name for node in model.graph.node for name in node.input} | graph_outputs
        dead = [node for node in model.graph.node if not any(out in used for out in node.output)]
        if not dead:
            break
        for node in dead:
            model.graph.node.remove(node)
    used = {name for node in model.graph.node for name in node.input} | graph_outputs
    keep = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def with_outputs(model: Any, tensors: Sequence[str]) -> Any:
    """A copy that also returns `tensors` (float32 activations), for measuring them with ONNX Runtime."""
    from onnx import TensorProto, helper

    out = copy.deepcopy(model)
    present = {value.name for value in out.graph.output}
    for name in tensors:
        if name not in present:
            out.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
            present.add(name)
    return out
