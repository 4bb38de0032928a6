"""Reading and writing edgeunet's ONNX files: loading with one-line errors, metadata_props, hashes.

Everything a later step needs (ModelSpec, precision, target, provenance) rides inside the ONNX as
`metadata_props`, so `calibrate`, `convert`, `build-engine`, `infer` and the backends never ask the
user to repeat a flag. No torch here: this module is on the edge path.

Metadata keys (all values are strings; JSON where structured):

    edgeunet.core.spec               ModelSpec JSON (classes, names, colours, size, channels, mean/std, threshold, io)
    edgeunet.precision          fp32 | fp16 | int8
    edgeunet.target             any | tensorrt | cpu (int8 graphs differ by target; see quantize.py)
    edgeunet.io                 float | uint8 | end-to-end (also inside the spec; duplicated for `inspect` readers)
    edgeunet.end_to_end         JSON {frame_size, frame_dtype, overlay_alpha, outputs, network_input, network_output,
                                network_size}: how export/end_to_end.py wrapped the network (to unwrap and re-wrap it)
    edgeunet.version            edgeunet version that wrote the file
    edgeunet.checkpoint_sha256  sha256 of the .pt it was exported from
    edgeunet.val_metrics        JSON of the checkpoint's last validation metrics
    edgeunet.val_split          JSON {data, val_data, val_ratio, seed, split_by, group_regex, val_groups}: the run's validation split (data/splits.py)
    edgeunet.export.onnx_export             JSON {opset, dynamic, batch, exporter, parity}
    edgeunet.source_sha256      sha256 of the fp32 ONNX a converted/quantized model came from
    edgeunet.calibration        JSON {manifest, manifest_sha256, method, num_images, seed}
    edgeunet.gate               JSON of the accuracy gate result that accepted this file
    edgeunet.data_stats         JSON of the training images' statistics (data/data_stats.py), for the calibration-set check
    edgeunet.float_layers       JSON list of the node names an INT8 graph leaves in float (--keep-float, --fallback auto)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from edgeunet.core.atomic import atomic_path
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.precisions import file_precision
from edgeunet.core.spec import ModelSpec
from edgeunet.core.version import __version__

KEY_SPEC = "edgeunet.spec"
KEY_PRECISION = "edgeunet.precision"
KEY_TARGET = "edgeunet.target"
KEY_IO = "edgeunet.io"
KEY_VERSION = "edgeunet.version"
KEY_CHECKPOINT_SHA = "edgeunet.checkpoint_sha256"
KEY_VAL_METRICS = "edgeunet.val_metrics"
KEY_VAL_SPLIT = "edgeunet.val_split"
KEY_EXPORT = "edgeunet.export"
KEY_SOURCE_SHA = "edgeunet.source_sha256"
KEY_CALIBRATION = "edgeunet.calibration"
KEY_GATE = "edgeunet.gate"
KEY_DATA_STATS = "edgeunet.data_stats"
KEY_FLOAT_LAYERS = "edgeunet.float_layers"
KEY_END_TO_END = "edgeunet.end_to_end"

TARGETS = ("any", "tensorrt", "cpu")


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a core dependency
        raise EdgeUnetError("this step needs the onnx package: pip install onnx") from None
    return onnx


def load_onnx(path: Path | str) -> Any:
    """The ModelProto in `path`, or a one-line error saying why it is not a usable ONNX file."""
    onnx = _require_onnx()
    path = Path(path)
    if not path.exists():
        raise EdgeUnetError(f"{path}: no such ONNX file")
    if path.is_dir():
        raise EdgeUnetError(f"{path}: is a folder; pass an .onnx file")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError, OSError, ValueError...: all mean "not ONNX"
        raise EdgeUnetError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}); pass a file written by `edgeunet export`"
        ) from None
    if not model.graph.node or not model.graph.input or not model.ir_version:
        raise EdgeUnetError(f"{path}: not an ONNX model (no graph inside); pass a file written by `edgeunet export`")
    return model


def read_metadata(model: Any) -> Dict[str, str]:
    """metadata_props as a dict (last value wins, as in ONNX Runtime)."""
    return {prop.key: prop.value for prop in model.metadata_props}


def set_metadata(model: Any, values: Dict[str, Any]) -> None:
    """Add or replace metadata_props; non-string values are stored as JSON."""
    current = read_metadata(model)
    for key, value in values.items():
        current[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    del model.metadata_props[:]
    for key in sorted(current):
        prop = model.metadata_props.add()
        prop.key, prop.value = key, current[key]


def spec_from_metadata(metadata: Dict[str, str], source: str) -> ModelSpec:
    """The ModelSpec stored by `edgeunet export`, or a one-line error for a foreign ONNX."""
    text = metadata.get(KEY_SPEC)
    if text is None:
        raise EdgeUnetError(
            f"{source}: an ONNX model without edgeunet metadata ({KEY_SPEC}); export it with `edgeunet export CHECKPOINT`"
        )
    return ModelSpec.from_json(text, source)


def precision_of(metadata: Dict[str, str], source: str = "ONNX") -> str:
    """The file's precision; none recorded is fp32 (a plain export), an unknown one is refused, never read as fp32.

    Why refuse: a precision this version does not know (a newer edgeunet's, a hand edit) read as fp32 would be
    calibrated or gated as fp32.
    """
    return file_precision(metadata.get(KEY_PRECISION, "fp32"), f"{source}: {KEY_PRECISION}")


def json_field(metadata: Dict[str, str], key: str) -> Optional[Any]:
    """A JSON-valued metadata entry, or None when absent or unreadable (provenance is best-effort)."""
    text = metadata.get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_spec(onnx_path: Path | str) -> ModelSpec:
    """The ModelSpec inside an edgeunet ONNX file; errors (missing, not ONNX, foreign ONNX) are one line."""
    model = load_onnx(onnx_path)
    return spec_from_metadata(read_metadata(model), str(onnx_path))


def read_model(onnx_path: Path | str) -> tuple[Any, Dict[str, str], ModelSpec]:
    """(ModelProto, metadata, spec) in one read, for steps that transform the graph."""
    model = load_onnx(onnx_path)
    metadata = read_metadata(model)
    return model, metadata, spec_from_metadata(metadata, str(onnx_path))


def save_onnx(model: Any, path: Path | str, check: bool = True) -> Path:
    """Write `model` as one self-contained file (no external data), atomically, after onnx.checker."""
    onnx = _require_onnx()
    path = Path(path)
    if path.exists() and path.is_dir():
        raise EdgeUnetError(f"{path}: is a folder; pass an output file name ending in .onnx")
    if path.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"{path}: output name must end in .onnx (the suffix picks the backend later)")
    set_metadata(model, {KEY_VERSION: __version__})
    data = model.SerializeToString()
    if check:
        onnx.checker.check_model(onnx.load_from_string(data))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def input_info(model: Any) -> tuple[str, list, int]:
    """(name, shape with None for dynamic dims, ONNX elem type) of the graph's first real input."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    value = inputs[0]
    tensor = value.type.tensor_type
    shape = [dim.dim_value if dim.HasField("dim_value") else None for dim in tensor.shape.dim]
    return value.name, shape, tensor.elem_type


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, ONNX element type and dims (None where the dim is symbolic)."""

    name: str
    elem_type: int
    dims: Tuple[Optional[int], ...]

    @property
    def type_name(self) -> str:
        onnx = _require_onnx()
        return str(onnx.TensorProto.DataType.Name(self.elem_type))


def graph_io(model: Any) -> Tuple[List[TensorInfo], List[TensorInfo]]:
    """(inputs, outputs) of the graph as declared in the ONNX, initializers excluded.

    Why declared, not inferred: serving configs (Triton, DeepStream) must state exactly what the file
    says, and `edgeunet export` always writes full I/O shapes (symbolic dims keep their None).
    """
    initializers = {init.name for init in model.graph.initializer}

    def info(value: Any) -> TensorInfo:
        tensor = value.type.tensor_type
        dims = tuple(dim.dim_value if dim.HasField("dim_value") else None for dim in tensor.shape.dim)
        return TensorInfo(value.name, int(tensor.elem_type), dims)

    inputs = [info(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [info(v) for v in model.graph.output]


def tensor_types(model: Any) -> Dict[str, int]:
    """Tensor name -> ONNX element type: declared I/O, initializers, Constant outputs, plus ONNX shape inference.

    An inconsistent graph keeps its declared types (the checks that use this report what is wrong with it).
    """
    import onnx

    try:
        graph = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # noqa: BLE001 - shape inference rejects some invalid graphs; their declared types still count
        graph = model.graph
    types: Dict[str, int] = {}
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        if value.type.HasField("tensor_type") and value.type.tensor_type.elem_type:
            types[value.name] = int(value.type.tensor_type.elem_type)
    for init in graph.initializer:
        types[init.name] = int(init.data_type)
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    types.setdefault(node.output[0], int(attr.t.data_type))
    return types


def constant_values(model: Any) -> Dict[str, Any]:
    """Initializers and Constant-node outputs by name, as numpy arrays (scales and zero points live in either)."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values
