"""What `Builder.build_serialized_network` checks and produces. Each rule names its source."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from tests.trtsim import calibrate, plan, resources
from tests.trtsim.state import STATE
from tests.trtsim.surface import VERSIONS, major


def build(builder: Any, network: Any, config: Any) -> Optional[bytes]:
    """The engine blob, or None after logging the reason as ERROR through the builder's logger."""
    from tests.trtsim.tensorrt_api import NUMPY, _dtype_name, _emit

    logger = builder._logger

    def fail(message: str) -> None:
        _emit(logger, "ERROR", message)
        return None

    parsed = network._parsed
    if parsed is None or not parsed.inputs:
        return fail("4: Network must have at least one input (parse an ONNX model first)")
    if not parsed.outputs:
        return fail("4: Network must have at least one output")
    v = STATE.version
    flags = set(config._flags)
    if network._strongly_typed and flags & {"FP16", "INT8", "BF16", "FP8"}:
        # NvInfer.h NetworkDefinitionCreationFlag::kSTRONGLY_TYPED (10.x): precision builder flags are not allowed
        return fail(f"4: strongly typed network: builder flags {sorted(flags & {'FP16', 'INT8', 'BF16', 'FP8'})} are not allowed")

    # Optimization profiles (NvInfer.h / developer guide "Working with Dynamic Shapes"): a network with dynamic
    # inputs needs at least one profile that covers every dynamic input, with fixed dims matching the network.
    dynamic = [io for io in parsed.inputs if any(d < 0 for d in io.shape)]
    profiles: List[Dict[str, Dict[str, List[int]]]] = []
    for index, profile in enumerate(config._profiles):
        entry: Dict[str, Dict[str, List[int]]] = {}
        for io in parsed.inputs:
            shapes = profile._shapes.get(io.name)
            if shapes is None:
                if any(d < 0 for d in io.shape):
                    return fail(f"4: optimization profile {index} has no dimensions set for dynamic input {io.name}")
                shapes = (io.shape, io.shape, io.shape)
            for which, dims in zip(("min", "opt", "max"), shapes):
                if len(dims) != len(io.shape) or any(w >= 0 and w != d for w, d in zip(io.shape, dims)):
                    return fail(f"4: optimization profile {index}: {which} {dims} of {io.name} does not match the network input {io.shape}")
            entry[io.name] = {"min": list(shapes[0]), "opt": list(shapes[1]), "max": list(shapes[2])}
        profiles.append(entry)
    if dynamic and not profiles:
        return fail("4: Network has dynamic or shape inputs, but no optimization profile has been defined.")
    if not profiles:  # TensorRT always has one profile; a static network gets it implicitly
        profiles.append({io.name: {"min": list(io.shape), "opt": list(io.shape), "max": list(io.shape)} for io in parsed.inputs})

    # WORKSPACE pool (tests/trtsim/resources.py): a layer whose every tactic needs more scratch than the pool has no
    # implementation, and TensorRT fails the build with its "Could not find any implementation" error.
    STATE.recorder.memory_pools = dict(config._pools)
    workspace = config._pools.get("WORKSPACE")
    if workspace is not None:
        largest = {n: max((p[n]["max"] for p in profiles if n in p), key=lambda s: int(np.prod(s))) for n in profiles[0]}
        short = [(node, need) for node, need in resources.workspace_needs(parsed.model_bytes, largest) if need > workspace]
        if short:
            _emit(logger, "WARNING", resources.WORKSPACE_WARNING)
            node, need = short[0]
            _emit(logger, "VERBOSE", f"Tactic for {node} requires {need} bytes of workspace; the WORKSPACE pool limit is {workspace}")
            return fail(f"10: [optimizer.cpp::computeCosts::3869] Error Code 10: Internal Error (Could not find any implementation for node {node}.)")

    # DLA (docs/TENSORRT.md "DLA"): core index below num_DLA_cores, FP16 or INT8 only, static shapes.
    device = config._device_type.name
    if device == "DLA":
        if not 0 <= config._dla_core < STATE.gpu.dla_cores:
            return fail(f"4: DLA core {config._dla_core} requested but this device has {STATE.gpu.dla_cores} DLA core(s)")
        if not flags & {"FP16", "INT8"} and not parsed.has_qdq and not parsed.fp16_graph:
            return fail("4: DLA supports FP16 and INT8 only; set BuilderFlag.FP16 or INT8")
        if any(p[n]["min"] != p[n]["max"] for p in profiles for n in p):
            return fail("4: DLA requires static shapes (min = opt = max)")

    int8 = ""
    scales: Dict[str, float] = {}
    if parsed.has_qdq:
        if not network._strongly_typed and "INT8" not in flags:
            # Developer guide "Explicit Quantization" (8.x/10.x weakly typed): Q/DQ networks need the INT8 flag
            return fail("4: the network has Q/DQ layers (INT8) but BuilderFlag.INT8 is not set")
        int8 = "qdq"
    elif "INT8" in flags:
        calibrator = config._calibrator if major(v) < 11 else None
        if calibrator is None:
            # 8.x log (NVIDIA/TensorRT#1413): no calibrator and no dynamic ranges -> warning, layers fall back to non-INT8
            _emit(logger, "WARNING", "Calibrator is not being used. Users must provide dynamic range for all tensors that are not Int32 or Bool.")
            _emit(logger, "WARNING", "Missing scale and zero-point for tensors, expect fall back to non-int8 implementation")
            int8 = "fallback"
        else:
            shape_source = config._calibration_profile or (config._profiles[0] if config._profiles else None)
            inputs: List[Tuple[str, Tuple[int, ...], Any]] = []
            for io in parsed.inputs:
                if shape_source is not None and io.name in shape_source._shapes:
                    shape = shape_source._shapes[io.name][1]  # the calibration profile's kOPT dims
                else:
                    shape = io.shape
                if any(d < 0 for d in shape):
                    return fail(f"4: calibration needs static dims for {io.name}; set a calibration profile")
                inputs.append((io.name, tuple(shape), NUMPY[_dtype_name(io.elem_type)]))
            algorithm = str(type(calibrator).__dict__.get("_algorithm") or getattr(type(calibrator), "_algorithm", "EntropyCalibration2"))
            result = calibrate.calibrate(calibrator, algorithm, parsed.model_bytes, inputs, lambda m: _emit(logger, "ERROR", m))
            if result is None:
                return fail("2: Internal Error (calibration failure occurred with no scaling factors detected)")
            scales = result
            int8 = "implicit"

    timing = config._timing_cache
    if timing is not None:
        timing._header["entries"] += max(parsed.num_layers, 1)  # the build times its layers into the cache

    header = plan.PlanHeader(
        version=v,
        version_text=VERSIONS[v][2],
        gpu_name=STATE.gpu.name,
        compute_capability=STATE.gpu.compute_capability,
        io=[{"name": io.name, "mode": "INPUT", "dtype": _dtype_name(io.elem_type), "shape": list(io.shape)} for io in parsed.inputs]
        + [{"name": io.name, "mode": "OUTPUT", "dtype": _dtype_name(io.elem_type), "shape": list(io.shape)} for io in parsed.outputs],
        profiles=profiles,
        flags=sorted(flags),
        fp16="FP16" in flags or parsed.fp16_graph,
        int8=int8,
        strongly_typed=network._strongly_typed,
        calibration_scales={k: float(np.float32(s)) for k, s in scales.items()},
        device_type=device,
        dla_core=config._dla_core if device == "DLA" else -1,
        num_layers=parsed.num_layers,
    )
    return plan.serialize(header, parsed.model_bytes)
