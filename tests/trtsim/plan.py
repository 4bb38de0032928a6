"""The emulator's serialized engine ("plan") and how an engine computes: ONNX Runtime on the CPU.

Blob layout: MAGIC | u32 header length | JSON header | ONNX bytes | u32 CRC32 of everything before it.
The header records what real TensorRT ties an engine to (docs/TENSORRT.md "Engines are tied to the TensorRT version and
GPU that built them"): the emulated version, GPU name, compute capability, plus profiles, precision, calibration
scales and the DLA core. Results are an ONNX Runtime reference, rounded through float16 for FP16 builds and
fake-quantized at the input for implicit INT8: protocol, not engine accuracy (DESIGN.md).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

MAGIC = b"TRTSIM\x00\x01"


class PlanError(ValueError):
    """A blob that is not an emulator engine, or a damaged one."""


@dataclass
class PlanHeader:
    version: str  # emulated version key, e.g. "10.3"
    version_text: str
    gpu_name: str
    compute_capability: Tuple[int, int]
    io: List[Dict[str, Any]]  # {name, mode: INPUT|OUTPUT, dtype: DataType name, shape: [..] with -1}
    profiles: List[Dict[str, Dict[str, List[int]]]]  # per profile: {input name: {min, opt, max}}
    flags: List[str]  # BuilderFlag names set
    fp16: bool
    int8: str  # "" | "qdq" | "implicit" | "fallback"
    strongly_typed: bool
    calibration_scales: Dict[str, float] = field(default_factory=dict)
    device_type: str = "GPU"
    dla_core: int = -1
    num_layers: int = 0


def serialize(header: PlanHeader, onnx_bytes: bytes) -> bytes:
    head = json.dumps(asdict(header), sort_keys=True).encode("utf-8")
    body = MAGIC + struct.pack("<I", len(head)) + head + onnx_bytes
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def deserialize(blob: bytes) -> Tuple[PlanHeader, bytes]:
    """(header, ONNX bytes); PlanError names what is wrong (magic, truncation, checksum)."""
    if len(blob) < len(MAGIC) + 8 or not blob.startswith(MAGIC):
        raise PlanError("magic tag does not match (not a serialized engine of this emulator)")
    body, crc = blob[:-4], struct.unpack("<I", blob[-4:])[0]
    (head_len,) = struct.unpack("<I", blob[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if start + head_len > len(body):
        raise PlanError("the engine blob is truncated")
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise PlanError("the engine blob is truncated or corrupt (checksum mismatch)")
    raw = json.loads(body[start:start + head_len].decode("utf-8"))
    raw["compute_capability"] = tuple(raw["compute_capability"])
    return PlanHeader(**raw), body[start + head_len:]


def session(onnx_bytes: bytes, extra_outputs: bool = False) -> Any:
    """An ONNX Runtime CPU session (one thread: the test machines share two cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def with_intermediates(onnx_bytes: bytes) -> Tuple[bytes, List[str]]:
    """The model with every float activation added as an output (for calibration statistics)."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    inferred = onnx.shape_inference.infer_shapes(model)
    existing = {o.name for o in model.graph.output}
    names: List[str] = []
    for value in inferred.graph.value_info:
        if value.name not in existing and value.type.tensor_type.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
            model.graph.output.append(value)
            names.append(value.name)
    return model.SerializeToString(), names


def fake_quantize(array: np.ndarray, scale: float) -> np.ndarray:
    """Symmetric INT8 round trip (docs/TENSORRT.md INT8: zero point 0, [-127, 127] as TensorRT's calibrators use)."""
    if scale <= 0:
        return array
    return (np.clip(np.round(array / scale), -127, 127) * scale).astype(array.dtype)


def through_fp16(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.float32:
        return array.astype(np.float16).astype(np.float32)
    return array


def run(sess: Any, header: PlanHeader, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Outputs for `feeds` under the engine's precision."""
    if header.fp16:
        feeds = {k: through_fp16(v) for k, v in feeds.items()}
    if header.int8 == "implicit":
        feeds = {k: fake_quantize(v, header.calibration_scales.get(k, 0.0)) if v.dtype == np.float32 else v for k, v in feeds.items()}
    names = [o.name for o in sess.get_outputs()]
    results = dict(zip(names, sess.run(names, feeds)))
    if header.fp16:
        results = {k: through_fp16(v) for k, v in results.items()}
    return results


def output_shapes(sess: Any, header: PlanHeader, shapes: Dict[str, Tuple[int, ...]], dtypes: Dict[str, Any]) -> Optional[Dict[str, Tuple[int, ...]]]:
    """Output shapes for concrete input shapes (one zero-filled run: the models under test are tiny)."""
    feeds = {name: np.zeros(shape, dtype=dtypes[name]) for name, shape in shapes.items()}
    names = [o.name for o in sess.get_outputs()]
    return {n: tuple(int(d) for d in a.shape) for n, a in zip(names, sess.run(names, feeds))}
