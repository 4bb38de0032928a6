"""`edgeunet export-triton`: a Triton Inference Server model repository for an ONNX model or a TensorRT engine.

Layout written (the Triton convention):

    REPO/NAME/config.pbtxt        ModelConfig in protobuf text format
    REPO/NAME/1/model.onnx        platform onnxruntime_onnx   (MODEL is an .onnx), or
    REPO/NAME/1/model.plan        platform tensorrt_plan      (MODEL is an .engine/.plan from build-engine)

Why the config is built with Triton's own protobuf schema (`tritonclient.grpc.model_config_pb2`) and
`text_format`, not by string concatenation: a field name or enum that Triton does not know fails here,
at export, instead of at server start; and the file is re-parsed before it is kept.

I/O names, types and dims are read from the ONNX graph itself (for an engine: from the ONNX its sidecar
records, checked by sha256), so they match the model exactly. Triton's batch rule: with max_batch_size > 0
the first dim is the batch and is left out of `dims`, which needs a symbolic batch dim in the graph; with
max_batch_size 0 `dims` is the full shape. The whole repository is built in a temporary folder and
renamed into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.atomic import atomic_dir, sha256_file
from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.model_files import ENGINE, ONNX, model_kind
from edgeunet.core.onnx_model import KEY_PRECISION, TensorInfo, graph_io, precision_of, read_model
from edgeunet.core.spec import ModelSpec

PLATFORM_ONNX = "onnxruntime_onnx"
PLATFORM_PLAN = "tensorrt_plan"
DEFAULT_MAX_BATCH = 8
TRITON_HINT = "export-triton needs Triton's client package for its ModelConfig schema: pip install 'edgeunet[triton]'"

# ONNX TensorProto type name -> Triton DataType name (model_config.proto).
TRITON_TYPES: Dict[str, str] = {
    "FLOAT": "TYPE_FP32",
    "FLOAT16": "TYPE_FP16",
    "BFLOAT16": "TYPE_BF16",
    "DOUBLE": "TYPE_FP64",
    "UINT8": "TYPE_UINT8",
    "UINT16": "TYPE_UINT16",
    "UINT32": "TYPE_UINT32",
    "UINT64": "TYPE_UINT64",
    "INT8": "TYPE_INT8",
    "INT16": "TYPE_INT16",
    "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64",
    "BOOL": "TYPE_BOOL",
    "STRING": "TYPE_STRING",
}


def model_config_pb2() -> Any:
    """Triton's ModelConfig protobuf module, or MissingDependencyError (exit 3) naming the install step."""
    try:
        from tritonclient.grpc import model_config_pb2 as pb2
    except ImportError:
        raise MissingDependencyError(TRITON_HINT) from None
    return pb2


@dataclass
class TritonExport:
    """What was written, for the CLI's summary."""

    repo: Path
    name: str
    platform: str
    max_batch: int
    config_path: Path
    model_path: Path
    config_text: str
    notes: List[str]


@dataclass
class _Source:
    """The file to copy into the repository and the ONNX graph its I/O comes from."""

    path: Path
    platform: str
    filename: str
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    spec: ModelSpec
    precision: str
    max_profile_batch: Optional[int]  # engines: the optimization profile's largest batch
    notes: List[str]


def model_name(path: Path, name: Optional[str]) -> str:
    """The Triton model name (also the folder name): --name, else the file stem with unsafe characters replaced."""
    chosen = name if name is not None else re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", chosen or ""):
        raise EdgeUnetError(f"--name {chosen!r}: use letters, digits, '_', '-' and '.' (it becomes a folder name)")
    return chosen


def _onnx_source(path: Path) -> _Source:
    model, metadata, spec = read_model(path)
    inputs, outputs = graph_io(model)
    return _Source(path, PLATFORM_ONNX, "model.onnx", inputs, outputs, spec, precision_of(metadata), None, [])


def _engine_source(path: Path) -> _Source:
    """An engine from build-engine: integrity via its sidecar, I/O from the ONNX it was built from."""
    from edgeunet.trt.sidecar import check_engine_file, sidecar_path, spec_of_sidecar

    sidecar = check_engine_file(path)
    spec = spec_of_sidecar(sidecar, path)
    raw = sidecar.get("onnx")
    onnx_info: Dict[str, Any] = raw if isinstance(raw, dict) else {}
    recorded = Path(str(onnx_info.get("path", "")))
    candidates = [recorded, path.parent / recorded.name] if str(recorded) else []
    onnx_path = next((c for c in candidates if c.is_file() and sha256_file(c) == onnx_info.get("sha256")), None)
    if onnx_path is None:
        raise EdgeUnetError(
            f"{path}: the ONNX it was built from ({recorded or 'unrecorded'}) is not here unchanged, so its I/O cannot be "
            f"read without TensorRT; put that file back, or pass the ONNX to export-triton (onnxruntime_onnx)"
        )
    model, _, _ = read_model(onnx_path)
    inputs, outputs = graph_io(model)
    shapes = sidecar.get("shapes")
    max_batch = int(shapes["max"][0]) if isinstance(shapes, dict) and shapes.get("max") else None
    notes = [
        f"a TensorRT plan only loads in a Triton server with TensorRT {sidecar['tensorrt_version']} on a "
        f"{sidecar['gpu'].get('name')} (sm {sidecar['gpu'].get('compute_capability')}), as it was built "
        f"({sidecar_path(path).name}); rebuild with `{sidecar['build_command']}` inside the server's container otherwise"
    ]
    return _Source(path, PLATFORM_PLAN, "model.plan", inputs, outputs, spec, str(sidecar.get("precision", "fp32")), max_batch, notes)


def load_source(path: Path) -> _Source:
    path = Path(path)
    kind = model_kind(path)
    if kind == ONNX:
        return _onnx_source(path)
    if kind == ENGINE:
        return _engine_source(path)
    raise EdgeUnetError(f"{path}: pass an .onnx model (from `edgeunet export`) or an .engine/.plan (from `edgeunet build-engine`)")


def resolve_max_batch(requested: Optional[int], source: _Source) -> int:
    """Triton's max_batch_size for this model: a batching config needs a symbolic batch dim in every tensor."""
    tensors = source.inputs + source.outputs
    if any(len(t.dims) == 0 for t in tensors):
        raise EdgeUnetError(f"{source.path}: a scalar graph input/output cannot be served; re-export with `edgeunet export`")
    batch_dims = {t.dims[0] for t in tensors}
    dynamic = batch_dims == {None}
    if requested is None:
        if not dynamic:
            return 0
        return min(DEFAULT_MAX_BATCH, source.max_profile_batch) if source.max_profile_batch else DEFAULT_MAX_BATCH
    if requested < 0:
        raise EdgeUnetError(f"--max-batch {requested}: must be 0 (no batching) or more")
    if requested > 0 and not dynamic:
        fixed = ", ".join(sorted(str(d) for d in batch_dims))
        raise EdgeUnetError(
            f"--max-batch {requested}: {source.path} has a fixed batch dim ({fixed}); re-export with `edgeunet export --dynamic`, "
            "or use --max-batch 0"
        )
    if requested > 0 and source.max_profile_batch is not None and requested > source.max_profile_batch:
        raise EdgeUnetError(
            f"--max-batch {requested}: the engine's optimization profile stops at batch {source.max_profile_batch}; "
            f"rebuild with a larger --shapes max or use --max-batch {source.max_profile_batch}"
        )
    return requested


def triton_dims(dims: Sequence[Optional[int]], max_batch: int) -> List[int]:
    """ONNX dims -> Triton dims: symbolic dims become -1; the batch dim is dropped when batching (max_batch > 0)."""
    kept = dims[1:] if max_batch > 0 else dims
    return [-1 if d is None else int(d) for d in kept]


def triton_type(tensor: TensorInfo, pb2: Any) -> int:
    name = tensor.type_name
    if name not in TRITON_TYPES:
        raise EdgeUnetError(f"tensor {tensor.name}: ONNX type {name} has no Triton equivalent; re-export with `edgeunet export`")
    return int(pb2.DataType.Value(TRITON_TYPES[name]))


def build_config(
    source: _Source, name: str, max_batch: int, instances: int, dynamic_batching: bool, pb2: Any,
    max_queue_delay_us: Optional[int] = None,
) -> Any:
    """The ModelConfig message for this model."""
    config = pb2.ModelConfig(name=name, platform=source.platform, max_batch_size=max_batch)
    for tensors, field in ((source.inputs, config.input), (source.outputs, config.output)):
        for tensor in tensors:
            entry = field.add()
            entry.name = tensor.name
            entry.data_type = triton_type(tensor, pb2)
            entry.dims.extend(triton_dims(tensor.dims, max_batch))
    group = config.instance_group.add()
    group.count = instances
    # AUTO (GPU when the server has one, else CPU) suits ONNX Runtime; a TensorRT plan only runs on a GPU.
    group.kind = pb2.ModelInstanceGroup.KIND_GPU if source.platform == PLATFORM_PLAN else pb2.ModelInstanceGroup.KIND_AUTO
    if dynamic_batching:
        config.dynamic_batching.SetInParent()
        if max_queue_delay_us is not None:
            config.dynamic_batching.max_queue_delay_microseconds = max_queue_delay_us
    # Clients need the pre/postprocessing contract (mean/std, channel order, threshold, classes): ship it with the model.
    config.parameters["edgeunet.spec"].string_value = source.spec.to_json()
    config.parameters[KEY_PRECISION].string_value = source.precision
    return config


def config_text(config: Any, pb2: Any) -> str:
    """protobuf text format, re-parsed into a fresh ModelConfig as a self-check before anything is kept."""
    from google.protobuf import text_format

    text = str(text_format.MessageToString(config))
    reparsed = text_format.Parse(text, pb2.ModelConfig())
    if reparsed != config:  # a bug in this module, not a user error
        raise RuntimeError("config.pbtxt does not round-trip through Triton's ModelConfig schema")
    return text


def _header(source: _Source, max_batch: int) -> str:
    shapes = "; ".join(f"{t.name} {t.type_name} {list(t.dims)}" for t in source.inputs + source.outputs)
    batching = f"max_batch_size {max_batch}: dims exclude the batch dim" if max_batch > 0 else "max_batch_size 0: dims are the full shape"
    return (
        f"# Written by `edgeunet export-triton` from {source.path.name}.\n"
        f"# Graph I/O: {shapes} (None = symbolic). {batching}.\n"
    )


def export_triton(
    model: Path,
    repo: Path,
    name: Optional[str] = None,
    max_batch: Optional[int] = None,
    instances: int = 1,
    dynamic_batching: bool = False,
    max_queue_delay_us: Optional[int] = None,
) -> TritonExport:
    """Write REPO/NAME/{config.pbtxt, 1/model.onnx|model.plan}; REPO must be new or empty."""
    pb2 = model_config_pb2()
    if instances < 1:
        raise EdgeUnetError(f"--instances {instances}: must be at least 1")
    source = load_source(Path(model))
    chosen = model_name(source.path, name)
    batch = resolve_max_batch(max_batch, source)
    if dynamic_batching and batch == 0:
        raise EdgeUnetError("--dynamic-batching needs batching: give --max-batch N (N > 0) with a model exported with --dynamic")
    if max_queue_delay_us is not None and not dynamic_batching:
        raise EdgeUnetError("--max-queue-delay is a dynamic batching setting; add --dynamic-batching")
    config = build_config(source, chosen, batch, instances, dynamic_batching, pb2, max_queue_delay_us)
    text = _header(source, batch) + config_text(config, pb2)
    repo = Path(repo)
    with atomic_dir(repo) as tmp:
        version_dir = tmp / chosen / "1"
        version_dir.mkdir(parents=True)
        shutil.copyfile(source.path, version_dir / source.filename)
        (tmp / chosen / "config.pbtxt").write_text(text, encoding="utf-8")
    return TritonExport(
        repo=repo, name=chosen, platform=source.platform, max_batch=batch, config_path=repo / chosen / "config.pbtxt",
        model_path=repo / chosen / "1" / source.filename, config_text=text, notes=source.notes,
    )


def summary(result: TritonExport) -> Tuple[str, ...]:
    """The lines the CLI prints."""
    lines = [
        f"wrote {result.repo}/ ({result.platform}, max_batch_size {result.max_batch}): {result.config_path}, {result.model_path}",
        f"serve: docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v {result.repo.resolve()}:/models "
        f"nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models",
    ]
    return tuple(lines + [f"note: {note}" for note in result.notes])
