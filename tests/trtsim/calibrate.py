"""Implicit INT8 calibration, driven the way TensorRT's Python trampoline drives a calibrator.

Protocol (docs/TENSORRT.md "Calibrator protocol", NVIDIA/TensorRT python/src/infer/pyInt8.cpp in 8.6.1 and 10.3.0):
read_calibration_cache() first (bytes: use them, feed nothing); else get_batch_size(), then get_batch(names) until
None/[]; each pointer is copied as a whole batch of the input's shape (read here through the bounds-checked device
memory, so an undersized buffer fails the build); then write_calibration_cache(memoryview). Every call is wrapped:
an exception is printed as "[ERROR] Exception caught in <method>(): ..." to stderr and becomes "no more data"
(get_batch), -1 (get_batch_size) or "no cache"; nothing reaches the caller of build_serialized_network.
Scales: max |x| / 127 per tensor over all batches, for the input and every float activation, for entropy and
min-max alike (a documented simplification: TensorRT's entropy calibrator picks a KL threshold; the emulator checks
the protocol, not the numbers).
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from tests.trtsim import cuda, plan
from tests.trtsim.state import STATE
from tests.trtsim.surface import VERSIONS


def _override(calibrator: Any, name: str) -> Optional[Callable[..., Any]]:
    """The Python override, found by name on the object's class or a mixin (pybind getOverride; docs/TENSORRT.md)."""
    for klass in type(calibrator).__mro__:
        if klass.__dict__.get("_trt_name") or klass.__dict__.get("_trtsim_base") or klass is object:
            continue
        if name in klass.__dict__:
            return getattr(calibrator, name)  # type: ignore[no-any-return]
    return None


def _call(calibrator: Any, name: str, default: Any, *args: Any) -> Any:
    STATE.recorder.calibrator_calls.append(name)
    method = _override(calibrator, name)
    try:
        if method is None:
            raise RuntimeError(f'Tried to call pure virtual function "IInt8Calibrator::{name}"')
        return method(*args)
    except Exception as exc:  # noqa: BLE001 - the trampoline catches everything (pyInt8.cpp, 8.4+)
        text = f"{type(exc).__name__}: {exc}"
        print(f"[ERROR] Exception caught in {name}(): {text}", file=sys.stderr, flush=True)
        STATE.recorder.calibrator_errors.append(f"{name}: {text}")
        return default


def header_line(algorithm: str) -> str:
    """'TRT-8601-EntropyCalibration2': TensorRT's cache header (NV_TENSORRT_VERSION then the algorithm)."""
    text = VERSIONS[STATE.version][2]
    parts = [int(p) for p in (text.split(".") + ["0", "0"])[:3]]
    number = parts[0] * 1000 + parts[1] * 100 + parts[2] if parts[0] < 10 else parts[0] * 10000 + parts[1] * 100 + parts[2]
    return f"TRT-{number}-{algorithm}"


def cache_text(algorithm: str, scales: Dict[str, float]) -> bytes:
    """docs/TENSORRT.md INT8: a header line, then `tensor_name: <hex of the fp32 scale>` per tensor."""
    lines = [header_line(algorithm)]
    lines += [f"{name}: {struct.pack('>f', scale).hex()}" for name, scale in sorted(scales.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse_cache(data: bytes) -> Dict[str, float]:
    lines = [line.strip() for line in bytes(data).decode("utf-8", errors="replace").splitlines() if line.strip()]
    if not lines or not lines[0].startswith("TRT-"):
        raise ValueError("calibration cache has no TRT- header line")
    scales: Dict[str, float] = {}
    for line in lines[1:]:
        name, _, value = line.rpartition(":")
        scales[name.strip()] = struct.unpack(">f", bytes.fromhex(value.strip()))[0]
    return scales


def calibrate(
    calibrator: Any, algorithm: str, onnx_bytes: bytes, inputs: List[Tuple[str, Tuple[int, ...], Any]], log_error: Callable[[str], None],
) -> Optional[Dict[str, float]]:
    """Scales per tensor, or None when calibration failed (the reason went to `log_error`)."""
    cached = _call(calibrator, "read_calibration_cache", None)
    if cached is not None:
        try:
            scales = parse_cache(bytes(cached))
        except (ValueError, TypeError, struct.error) as exc:
            log_error(f"calibration cache from read_calibration_cache() is unreadable ({exc})")
            return None
        STATE.recorder.notes.append("calibration cache used")
        STATE.recorder.calibration_scales = scales
        return scales
    _call(calibrator, "get_batch_size", -1)
    model_bytes, _ = plan.with_intermediates(onnx_bytes)
    sess = plan.session(model_bytes)
    names = [o.name for o in sess.get_outputs()]
    maxabs: Dict[str, float] = {}
    input_names = [name for name, _, _ in inputs]
    while True:
        pointers = _call(calibrator, "get_batch", None, list(input_names))
        if not pointers:
            break
        if len(pointers) != len(inputs):
            log_error(f"get_batch() returned {len(pointers)} pointers for {len(inputs)} inputs")
            return None
        feeds: Dict[str, np.ndarray] = {}
        for (name, shape, dtype), pointer in zip(inputs, pointers):
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            try:
                data = cuda.read(pointer, nbytes, f"calibration batch for {name} {tuple(shape)}")
            except (cuda.LogicError, TypeError, ValueError) as exc:
                log_error(f"calibration: {exc}")
                return None
            feeds[name] = np.frombuffer(data, dtype=dtype).reshape(shape)
        STATE.recorder.batches_fed += 1
        for name, array in list(feeds.items()) + list(zip(names, sess.run(names, feeds))):
            if np.issubdtype(np.asarray(array).dtype, np.floating):
                maxabs[name] = max(maxabs.get(name, 0.0), float(np.max(np.abs(array))) if np.asarray(array).size else 0.0)
    if not maxabs:
        log_error("calibration got no batches (get_batch returned nothing on the first call)")
        return None
    scales = {name: (value / 127.0 if value > 0 else 1.0 / 127.0) for name, value in maxabs.items()}
    STATE.recorder.calibration_scales = scales
    _call(calibrator, "write_calibration_cache", None, memoryview(cache_text(algorithm, scales)))
    return scales
