"""The ONNX parser's rules, per version: what `OnnxParser.parse` accepts, from the operator matrix and the headers.

Every rule names its source. The emulator reports what the real parser would refuse; it does not try to be a
complete onnx-tensorrt (shape-tensor rules, plugins and most per-op restrictions are not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from edgeunet.core.onnx_model import tensor_types
from tests.trtsim.surface import major, operators

# ONNX element type -> the matrix's type names (onnx-tensorrt docs/operators.md "Supported Types").
MATRIX_TYPE = {
    TensorProto.FLOAT: "FP32", TensorProto.FLOAT16: "FP16", TensorProto.BFLOAT16: "BF16", TensorProto.INT32: "INT32",
    TensorProto.INT64: "INT64", TensorProto.INT8: "INT8", TensorProto.UINT8: "UINT8", TensorProto.BOOL: "BOOL",
    TensorProto.DOUBLE: "DOUBLE",
}
FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16)


@dataclass
class Issue:
    """One parser error: ErrorCode name, message, node index and node name/op (ParserError accessors)."""

    code: str
    desc: str
    node: int = -1
    node_name: str = ""
    node_operator: str = ""


@dataclass
class Io:
    name: str
    shape: Tuple[int, ...]  # -1 for dynamic dims
    elem_type: int


@dataclass
class Parsed:
    """What the network holds after a successful parse."""

    model_bytes: bytes
    inputs: List[Io]
    outputs: List[Io]
    num_layers: int
    has_qdq: bool
    fp16_graph: bool
    issues: List[Issue] = field(default_factory=list)


def _io(value: onnx.ValueInfoProto) -> Io:
    dims = tuple(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in value.type.tensor_type.shape.dim)
    return Io(value.name, dims, int(value.type.tensor_type.elem_type))




def _constant(graph: onnx.GraphProto, name: str) -> Optional[np.ndarray]:
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and node.output and node.output[0] == name:
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
    return None


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for attr in node.attribute:
        if attr.name == name:
            value = onnx.helper.get_attribute_value(attr)
            return value.decode() if isinstance(value, bytes) else value
    return default


def check(model: onnx.ModelProto, version: str, explicit_batch: bool) -> List[Issue]:
    """All parser errors for `model` under emulated TensorRT `version` (empty list: it parses)."""
    matrix = operators(version)
    graph = model.graph
    issues: List[Issue] = []
    if not explicit_batch:
        # onnx-tensorrt 8.x ModelImporter: the parser only fills networks created with the EXPLICIT_BATCH flag.
        return [Issue("INVALID_GRAPH", "the ONNX parser only supports networks with an explicit batch dimension "
                      "(create the network with the EXPLICIT_BATCH NetworkDefinitionCreationFlag)")]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if not matrix.opset_min <= opset <= matrix.opset_max:
        # operators-<v>.md first line: "supports operators up to Opset 17" / "in the inclusive range of opset 9 to opset 20"
        issues.append(Issue("UNSUPPORTED_GRAPH", f"opset {opset} is outside the parser's range {matrix.opset_min}..{matrix.opset_max}"))
    types = tensor_types(model)  # ONNX type inference only; the TensorRT rules below are the emulator's own

    def type_name(elem: int) -> str:
        name = MATRIX_TYPE.get(elem, str(elem))
        if name == "INT64" and matrix.casts_int64_down:
            return "INT32"  # 8.x matrix note: "TensorRT will attempt to cast down INT64 to INT32"
        if name == "DOUBLE":
            return "FP32"  # all matrices: "cast DOUBLE down to FLOAT"
        return name

    consumers: Dict[str, List[onnx.NodeProto]] = {}
    producers: Dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producers[name] = node

    for index, node in enumerate(graph.node):
        def issue(code: str, text: str, node: onnx.NodeProto = node, index: int = index) -> None:
            issues.append(Issue(code, text, index, node.name, node.op_type))

        if node.domain not in ("", "ai.onnx"):
            issue("UNSUPPORTED_NODE", f"no importer registered for op {node.domain}:{node.op_type} (plugin domains are not emulated)")
            continue
        entry = matrix.ops.get(node.op_type)
        if entry is None or not entry[0]:
            # operator matrix: the op is missing or marked N
            issue("UNSUPPORTED_NODE", f"no importer registered for op: {node.op_type}")
            continue
        supported = entry[1]
        data = node.input[0] if node.input else ""
        if data and data in types and node.op_type not in ("Shape", "Size") and type_name(types[data]) not in supported:
            # operator matrix "Supported Types" column (checked on the first input)
            issue("UNSUPPORTED_NODE_DATATYPE" if major(version) >= 10 else "UNSUPPORTED_NODE",
                  f"{node.op_type} does not support input type {MATRIX_TYPE.get(types[data], types[data])} "
                  f"(supported: {', '.join(sorted(supported))})")
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2 and node.input[2]:
            # operator matrix: "`y_zero_point` must be 0" / "`x_zero_point` must be zero"; docs/TENSORRT.md INT8 (symmetric)
            zero = _constant(graph, node.input[2])
            if zero is None or np.any(zero != 0):
                issue("INVALID_NODE", f"{node.op_type}: zero point must be 0 (TensorRT only supports symmetric quantization)")
            if zero is not None and zero.dtype not in (np.int8,) and major(version) < 10:
                issue("UNSUPPORTED_NODE", f"{node.op_type}: zero point type {zero.dtype} is not INT8 (matrix: INT8 only)")
        if node.op_type == "Resize":
            # operator matrix Resize restrictions: transformation modes, resize modes, nearest modes
            for attr, default, label in (
                ("coordinate_transformation_mode", "half_pixel", "transformation modes:"),
                ("mode", "nearest", "resize modes:"),
                ("nearest_mode", "round_prefer_floor", "nearest modes:"),
            ):
                allowed = matrix.backticked_after("Resize", label)
                value = str(_attr(node, attr, default))
                if allowed and value not in allowed:
                    issue("UNSUPPORTED_NODE_ATTR" if major(version) >= 10 else "UNSUPPORTED_NODE",
                          f"Resize {attr}={value!r} is not supported (supported: {', '.join(sorted(allowed))})")
        if node.op_type == "Cast":
            # include/NvInferRuntimeBase.h DataType::kUINT8 (docs/TENSORRT.md "UINT8 I/O"): UINT8 converts only to/from FLOAT/HALF
            to = int(_attr(node, "to", 0))  # type: ignore[call-overload]
            src = types.get(data)
            if to == TensorProto.UINT8 and src is not None and src not in FLOATS:
                issue("UNSUPPORTED_NODE", f"Cast to UINT8 from {TensorProto.DataType.Name(src)}: kUINT8 conversions are only supported for FLOAT/HALF")
            if src == TensorProto.UINT8 and to not in FLOATS:
                issue("UNSUPPORTED_NODE", f"Cast from UINT8 to {TensorProto.DataType.Name(to)}: kUINT8 conversions are only supported for FLOAT/HALF")
            if to in MATRIX_TYPE and type_name(to) not in supported:
                issue("UNSUPPORTED_NODE", f"Cast to {TensorProto.DataType.Name(to)} is not supported by this parser (matrix: {', '.join(sorted(supported))})")

    initializers = {i.name for i in graph.initializer}
    for value in graph.input:
        if value.name in initializers:
            continue
        if value.type.tensor_type.elem_type == TensorProto.UINT8:
            # NvInferRuntimeBase.h kUINT8 + matrix note "UINT8 is only supported as network input or output": it must feed a Cast to float/half
            users = consumers.get(value.name, [])
            if not users or any(n.op_type != "Cast" or int(_attr(n, "to", 0)) not in FLOATS for n in users):  # type: ignore[call-overload]
                issues.append(Issue("UNSUPPORTED_GRAPH", f"UINT8 input {value.name} must feed only a Cast to FLOAT or FLOAT16"))
    for value in graph.output:
        if value.type.tensor_type.elem_type == TensorProto.UINT8:
            node = producers.get(value.name)
            if node is None or node.op_type != "Cast" or types.get(node.input[0]) not in FLOATS:
                issues.append(Issue("UNSUPPORTED_GRAPH", f"UINT8 output {value.name} must be produced by a Cast from FLOAT or FLOAT16"))
    return issues


def parse(data: bytes, version: str, explicit_batch: bool) -> Parsed:
    """Parse ONNX bytes; `issues` non-empty means the parse failed."""
    try:
        model = onnx.load_from_string(bytes(data))
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and friends
        return Parsed(b"", [], [], 0, False, False, [Issue("MODEL_DESERIALIZE_FAILED", f"failed to parse the ONNX model: {exc}")])
    issues = check(model, version, explicit_batch)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [_io(v) for v in graph.input if v.name not in initializers]
    outputs = [_io(v) for v in graph.output]
    has_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)
    fp16 = any(io.elem_type == TensorProto.FLOAT16 for io in inputs + outputs) or any(i.data_type == TensorProto.FLOAT16 for i in graph.initializer)
    return Parsed(bytes(data), inputs, outputs, len(graph.node), has_qdq, fp16, issues)
