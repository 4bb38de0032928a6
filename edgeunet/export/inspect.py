"""`edgeunet inspect MODEL.onnx`: what is in an ONNX file, and what TensorRT would reject.

Reads the graph only (no inference, no torch). The TensorRT rules are the explicit-quantization
rules that hold on 8.5, 10.x and 11.x (docs/TENSORRT.md): INT8 only, zero point 0, per-channel weights
on axis 0 for Conv, per-tensor activations, opset >= 13, standard-domain operators only.
`problems` are things TensorRT refuses; `warnings` are accepted but worth knowing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.core.onnx_model import KEY_SPEC, constant_values, load_onnx, read_metadata
from edgeunet.export.trt_compat import CompatReport, check_model, resolve_target

ELEM_NAMES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64", 16: "bfloat16"}
STANDARD_DOMAINS = ("", "ai.onnx")
QUANT_OPS = ("QuantizeLinear", "DequantizeLinear")
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
INTEGER_OPS = ("QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "QLinearAdd", "QLinearConcat")


@dataclass
class QuantParam:
    """One QuantizeLinear/DequantizeLinear node and the tensor it quantizes."""

    node: str
    op: str
    tensor: str
    role: str  # weight | activation
    consumer: str  # op type(s) reading the dequantized value
    dtype: str  # zero-point dtype: int8 | uint8 | ...
    channels: int  # 1 = per-tensor
    axis: Optional[int]
    nonzero_zero_points: int


@dataclass
class InspectReport:
    path: Path
    opset: int
    ir_version: int
    producer: str
    inputs: List[Tuple[str, str, List[Any]]]
    outputs: List[Tuple[str, str, List[Any]]]
    metadata: Dict[str, str]
    ops: Dict[str, int]
    quant: List[QuantParam] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    compat: Optional[CompatReport] = None  # `--trt VERSION`: that parser version's rules

    @property
    def all_problems(self) -> List[str]:
        """The version-independent problems plus those of the `--trt` version (what --strict counts)."""
        return self.problems + (self.compat.problems if self.compat is not None else [])

    @property
    def tensorrt_ok(self) -> bool:
        return not self.all_problems

    def summary(self) -> Dict[str, Any]:
        weights = [q for q in self.quant if q.role == "weight" and q.op == "DequantizeLinear" and q.consumer in WEIGHTED_OPS]
        acts = [q for q in self.quant if q.role == "activation" and q.op == "QuantizeLinear"]
        return {
            "quantize_nodes": sum(1 for q in self.quant if q.op == "QuantizeLinear"),
            "dequantize_nodes": sum(1 for q in self.quant if q.op == "DequantizeLinear"),
            "zero_point_dtypes": sorted({q.dtype for q in self.quant}),
            "nonzero_zero_points": sum(q.nonzero_zero_points for q in self.quant),
            "weights_per_channel_axis0": sum(1 for q in weights if q.axis == 0),
            "weights_total": len(weights),
            "activations_per_tensor": sum(1 for q in acts if q.channels == 1),
            "activations_total": len(acts),
        }

    def to_dict(self) -> Dict[str, Any]:
        return {
            "path": str(self.path), "opset": self.opset, "ir_version": self.ir_version, "producer": self.producer,
            "inputs": self.inputs, "outputs": self.outputs, "metadata": self.metadata, "ops": self.ops,
            "quantization": self.summary(), "quant_nodes": [vars(q) for q in self.quant],
            "tensorrt_ok": self.tensorrt_ok, "problems": self.problems, "warnings": self.warnings,
            "tensorrt_check": self.compat.to_dict() if self.compat is not None else None,
        }

    def to_text(self) -> str:
        lines = [f"{self.path}", f"  opset {self.opset}, IR {self.ir_version}, producer {self.producer or '?'}"]
        for label, items in (("input", self.inputs), ("output", self.outputs)):
            for name, dtype, shape in items:
                lines.append(f"  {label:6} {name}: {dtype} {shape}")
        lines.append("  ops: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.ops.items())))
        if self.metadata:
            lines.append("  metadata:")
            for key, value in sorted(self.metadata.items()):
                lines.append(f"    {key}: {value if len(value) <= 160 else value[:157] + '...'}")
        if self.quant:
            s = self.summary()
            lines.append(
                f"  quantization: {s['quantize_nodes']} QuantizeLinear / {s['dequantize_nodes']} DequantizeLinear, "
                f"zero-point types {', '.join(s['zero_point_dtypes'])}, non-zero zero points {s['nonzero_zero_points']}"
            )
            lines.append(
                f"    weights: {s['weights_per_channel_axis0']}/{s['weights_total']} per-channel on axis 0; "
                f"activations: {s['activations_per_tensor']}/{s['activations_total']} per-tensor"
            )
            floats = [k for k in ("ConvTranspose", "Conv") if k in self.ops]
            quantized_consumers = Counter(q.consumer for q in self.quant if q.role == "weight" and q.op == "DequantizeLinear")
            for op in floats:
                lines.append(f"    {op}: {quantized_consumers.get(op, 0)} of {self.ops[op]} with quantized weights")
        else:
            lines.append("  quantization: none (float graph)")
        if self.problems:
            lines.append(f"  TensorRT would reject ({len(self.problems)}):")
            lines.extend(f"    - {p}" for p in self.problems)
        elif self.compat is not None:
            lines.append("  TensorRT, every version (quantization, standard ops): nothing it would reject")
        else:
            lines.append("  TensorRT: nothing it would reject")
        if self.warnings:
            lines.append("  warnings:")
            lines.extend(f"    - {w}" for w in self.warnings)
        if self.compat is not None:
            lines.append(self.compat.to_text())
        return "\n".join(lines)


def _value_info(value: Any) -> Tuple[str, str, List[Any]]:
    tensor = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
    return value.name, ELEM_NAMES.get(tensor.elem_type, str(tensor.elem_type)), shape


def inspect_onnx(path: Path | str, trt: Optional[str] = None) -> InspectReport:
    """Load PATH (one-line error if it is not ONNX) and report its I/O, metadata, quantization and TensorRT issues.

    `trt` ('8.5', '10.3', '11'): also check the graph against that version's ONNX parser (trt_compat); the Q/DQ
    rules are left to the quantization section above so each problem is said once.
    """
    import onnx

    if trt is not None:
        resolve_target(trt)  # a bad version is one line before the file is read
    path = Path(path)
    model = load_onnx(path)
    opset = max((o.version for o in model.opset_import if o.domain in STANDARD_DOMAINS), default=0)
    initializers = {init.name for init in model.graph.initializer}
    report = InspectReport(
        path=path, opset=opset, ir_version=int(model.ir_version), producer=model.producer_name,
        inputs=[_value_info(v) for v in model.graph.input if v.name not in initializers],
        outputs=[_value_info(v) for v in model.graph.output], metadata=read_metadata(model),
        ops=dict(Counter(n.op_type for n in model.graph.node)),
    )
    consts = constant_values(model)
    consumers: Dict[str, List[Any]] = {}
    producers: Dict[str, Any] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producers[name] = node

    for node in model.graph.node:
        if node.domain not in STANDARD_DOMAINS:
            report.problems.append(f"node {node.name or node.op_type}: operator {node.domain}.{node.op_type} is not standard ONNX")
        elif node.op_type in INTEGER_OPS:
            report.problems.append(
                f"node {node.name or node.op_type}: {node.op_type} (QOperator format); TensorRT needs Q/DQ: "
                "calibrate with --target tensorrt"
            )

    for node in model.graph.node:
        if node.op_type not in QUANT_OPS:
            continue
        report.quant.append(_quant_param(node, consts, consumers, producers, initializers, report, onnx))

    has_quant = bool(report.quant) or any(op in report.ops for op in INTEGER_OPS)
    if has_quant and opset < 13:
        report.problems.append(f"opset {opset}: per-channel Q/DQ needs opset >= 13; re-export with --opset 17")
    if KEY_SPEC not in report.metadata:
        report.warnings.append("no edgeunet metadata: this file was not written by `edgeunet export` (backends will refuse it)")
    precision = report.metadata.get("edgeunet.precision")
    if has_quant and precision not in (None, "int8"):
        report.warnings.append(f"graph is quantized but its metadata says precision {precision}")
    if report.metadata.get("edgeunet.target") == "cpu":
        report.warnings.append("calibrated for the CPU target (asymmetric uint8); calibrate again with --target tensorrt for TensorRT")
    if trt is not None:
        report.compat = check_model(model, trt, qdq=False)
    return report


def _quant_param(
    node: Any, consts: Dict[str, np.ndarray], consumers: Dict[str, List[Any]], producers: Dict[str, Any],
    initializers: set, report: InspectReport, onnx: Any,
) -> QuantParam:
    name = node.name or f"{node.op_type}({node.input[0]})"
    scale = consts.get(node.input[1]) if len(node.input) > 1 else None
    zero = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    axis_attr = next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), None)
    channels = int(np.asarray(scale).size) if scale is not None else 1
    axis = (int(axis_attr) if axis_attr is not None else 1) if channels > 1 else None
    dtype = str(zero.dtype) if zero is not None else ("uint8" if node.op_type == "QuantizeLinear" else "int8")
    nonzero = int(np.count_nonzero(zero)) if zero is not None else 0

    # A weight: the quantized tensor is an initializer (or the Q output of one, for Q->DQ pairs on weights).
    source = node.input[0]
    if node.op_type == "DequantizeLinear" and source in producers and producers[source].op_type == "QuantizeLinear":
        source = producers[source].input[0]
    is_weight = source in initializers or source in consts
    outputs = node.output
    readers = [c for out in outputs for c in consumers.get(out, [])]
    if node.op_type == "QuantizeLinear":
        readers = [c2 for c in readers for out in c.output for c2 in consumers.get(out, [])] or readers
    consumer = ",".join(sorted({r.op_type for r in readers})) or "-"
    role = "weight" if is_weight else "activation"
    param = QuantParam(name, node.op_type, source, role, consumer, dtype, channels, axis, nonzero)

    if dtype != "int8":
        report.problems.append(f"{name}: {dtype} quantization; TensorRT takes INT8 only (calibrate with --target tensorrt)")
    if nonzero:
        report.problems.append(f"{name}: {nonzero} non-zero zero point(s); TensorRT needs symmetric quantization (zero point 0)")
    if role == "activation" and channels > 1:
        report.problems.append(f"{name}: per-channel activation quantization; TensorRT needs per-tensor activations")
    if role == "weight" and node.op_type == "DequantizeLinear":
        if "ConvTranspose" in consumer:
            # NVIDIA/TensorRT#2380: TensorRT's deconvolution kernels take per-input-channel (axis 0) weight scales only.
            hint = "; TensorRT's deconvolution kernels expect axis 0 (NVIDIA/TensorRT#2380)" if axis not in (None, 0) else ""
            report.warnings.append(f"{name}: quantized ConvTranspose weights (axis {axis}); unverified on TensorRT, left float by calibrate{hint}")
        elif "Conv" in consumer.split(","):
            weight = consts.get(source)
            out_channels = int(weight.shape[0]) if weight is not None and weight.ndim else channels
            if channels > 1 and axis != 0:
                report.problems.append(f"{name}: Conv weights per-channel on axis {axis}; TensorRT needs axis 0")
            elif channels == 1 and out_channels == 1:
                param.axis = 0  # one output channel: per-tensor and per-channel are the same thing
            elif channels == 1:
                report.warnings.append(f"{name}: per-tensor Conv weights (TensorRT accepts them; per-channel keeps accuracy)")
    return param


@dataclass
class QdqCount:
    """How much of a graph is quantized, in the unit TensorRT fuses: a QuantizeLinear feeding a DequantizeLinear."""

    pairs: int  # Q -> DQ links: every activation, and weights stored as float with their own Q
    dq_only: int  # DQ of a stored int8 constant (weights quantized ahead of time, ModelOpt's dq_only form)
    quantize: int
    dequantize: int

    @property
    def quantized_tensors(self) -> int:
        return self.pairs + self.dq_only

    def text(self) -> str:
        extra = f" + {self.dq_only} int8 weight DQ" if self.dq_only else ""
        return f"{self.pairs} Q/DQ pairs{extra}"


def count_qdq(path: Path | str) -> QdqCount:
    """Q/DQ pairs of an ONNX file (graph only, no torch): comparable across calibrate engines and QAT exports."""
    model = load_onnx(Path(path))
    producers = {out: node for node in model.graph.node for out in node.output}
    pairs = dq_only = 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        source = producers.get(node.input[0])
        if source is not None and source.op_type == "QuantizeLinear":
            pairs += 1
        else:
            dq_only += 1
    ops = Counter(node.op_type for node in model.graph.node)
    return QdqCount(pairs=pairs, dq_only=dq_only, quantize=ops.get("QuantizeLinear", 0), dequantize=ops.get("DequantizeLinear", 0))


def inspect_json(report: InspectReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str) + "\n"
