"""Resources a real build and run are held to: memory pools, workspace, tensor alignment, external weights.

Sources: NvInfer.h `IBuilderConfig::setMemoryPoolLimit` and `MemoryPoolType` (DLA pools exist for DLA devices only;
"kDLA_MANAGED_SRAM ... must be a power of 2"; which pools exist per version comes from the json), NvInferRuntime.h
`IExecutionContext::setTensorAddress` ("The pointer must have at least 256-byte alignment"), onnx-tensorrt
`parse(model, path)` ("path: the path to the model; required if the model has external weights", read from the
model's folder). The workspace rule is an emulator choice with TensorRT's own messages: a convolution's tactics need
an im2col-sized scratch buffer (batch x Cin/groups x kH x kW x Hout x Wout x 4 bytes at the largest profile shape),
and a WORKSPACE pool below the largest such need leaves a layer with no tactic, so the build fails with TensorRT's
"Could not find any implementation for node" error after its "insufficient workspace" warning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import onnx
from onnx import external_data_helper, shape_inference

from tests.trtsim.state import STATE

TENSOR_ALIGNMENT = 256
WORKSPACE_WARNING = ("Some tactics do not have sufficient workspace memory to run. Increasing workspace size will enable more "
                     "tactics, please check verbose output for requested sizes.")


def pool_problem(pool: Any, size: int) -> Optional[str]:
    """TensorRT's parameter-check message for a limit it refuses, else None."""
    name = getattr(pool, "name", None)
    if name is None or getattr(pool, "_enum", None) != "MemoryPoolType":
        raise TypeError("set_memory_pool_limit(): incompatible function arguments (pool must be a tensorrt.MemoryPoolType)")
    if size < 0:
        raise ValueError("pool_size must be >= 0")
    if name.startswith("DLA_") and STATE.gpu.dla_cores == 0:
        return f"3: [builderConfig.cpp::setMemoryPoolLimit] Error Code 3: API Usage Error (MemoryPoolType::k{name} needs a DLA; this device has none)"
    if name == "DLA_MANAGED_SRAM" and size & (size - 1):
        return f"3: [builderConfig.cpp::setMemoryPoolLimit] Error Code 3: API Usage Error (kDLA_MANAGED_SRAM size {size} must be a power of 2)"
    return None


def _dims(value: Any) -> List[int]:
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def workspace_needs(model_bytes: bytes, max_shapes: Dict[str, List[int]]) -> List[Tuple[str, int]]:
    """(node name, bytes) of every Conv/ConvTranspose's scratch need at the largest input shapes."""
    model = onnx.load_from_string(model_bytes)
    for value in model.graph.input:
        shape = max_shapes.get(value.name)
        if shape is not None:
            for dim, size in zip(value.type.tensor_type.shape.dim, shape):
                dim.ClearField("dim_param")
                dim.dim_value = int(size)
    inferred = shape_inference.infer_shapes(model)
    known = {v.name: _dims(v) for v in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    needs = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2:
            continue
        out, w = known.get(node.output[0]), weights.get(node.input[1])
        if not out or not w or len(out) < 3 or any(d <= 0 for d in out):
            continue
        spatial = 1
        for d in out[2:]:
            spatial *= d
        taps = 1
        for d in w[1:]:
            taps *= d
        needs.append((node.name or f"{node.op_type}_{index}", out[0] * taps * spatial * 4))
    return needs


def with_external_data(model_bytes: bytes, path: Optional[str]) -> Tuple[bytes, Optional[str]]:
    """(model with its external tensors read in, None) or (b"", the parser's error for a missing weights file)."""
    model = onnx.load_from_string(model_bytes)
    external = [t for t in external_data_helper._get_all_tensors(model) if external_data_helper.uses_external_data(t)]
    if not external:
        return model_bytes, None
    folder = Path(path).resolve().parent if path else Path(os.getcwd())
    for tensor in external:
        info = external_data_helper.ExternalDataInfo(tensor)
        location = folder / info.location
        if not location.is_file():
            return b"", f"Failed to open file: {location} (external weights of initializer {tensor.name})"
    try:
        external_data_helper.load_external_data_for_model(model, str(folder))
    except Exception as exc:  # noqa: BLE001 - onnx raises ValueError/OSError for bad offsets or paths
        return b"", f"Failed to import initializer weights from {folder}: {exc}"
    return model.SerializeToString(), None
