"""The builder steps: network from ONNX -> builder config -> serialized engine, applying a `BuildPlan`.

Small callables (Polygraphy's shape) that only touch the TensorRT names the plan allows for the running version
(e.g. `BuilderFlag.FP16` is never looked up on 11.x). They are type-checked with `mypy --strict` against
`tensorrt-stubs` and executed in the tests against the TensorRT emulator of each version (tests/trtsim).
The decisions themselves live in `edgeunet.trt.plan`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.trt import import_tensorrt, shared_logger
from edgeunet.trt.plan import BuildPlan, ShapeProfile, Version, parse_version, resolve_profile

if TYPE_CHECKING:
    import tensorrt as trt

    from edgeunet.trt.calibration import CalibrationSet


def import_tensorrt_version() -> Version:
    """The running TensorRT's version tuple; MissingDependencyError (exit 3) when it is absent or broken."""
    return parse_version(import_tensorrt().__version__)


def create_network(builder: trt.Builder, plan: BuildPlan) -> trt.INetworkDefinition:
    """The network with the creation flags this version needs (and no name it does not have)."""
    import tensorrt as trt

    flags = 0
    if "EXPLICIT_BATCH" in plan.network_flags:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if "STRONGLY_TYPED" in plan.network_flags:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return builder.create_network(flags)


def parse_onnx(network: trt.INetworkDefinition, logger: trt.ILogger, onnx_path: Path) -> trt.OnnxParser:
    """Fill `network` from the ONNX file; the parser's first errors become one line."""
    import tensorrt as trt

    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)).strip().replace("\n", " ") for i in range(parser.num_errors)]
        detail = "; ".join(errors[:3]) or "no detail from the parser"
        raise EdgeUnetError(f"{onnx_path}: TensorRT cannot parse this ONNX ({detail}); run `edgeunet inspect {onnx_path} --trt`")
    return parser


def network_input(network: trt.INetworkDefinition) -> Tuple[str, Tuple[int, ...]]:
    """(name, shape with -1 for dynamic dims) of the single image input edgeunet models have."""
    if network.num_inputs != 1:
        raise EdgeUnetError(f"expected a model with one input, this one has {network.num_inputs}; export it with `edgeunet export`")
    tensor = network.get_input(0)
    return tensor.name, dims_tuple(tensor.shape)


def dims_tuple(dims: trt.Dims) -> Tuple[int, ...]:
    """trt.Dims -> tuple of ints (Dims is indexable with a length, not an iterator in the stubs)."""
    return tuple(int(dims[i]) for i in range(len(dims)))


def create_config(
    builder: trt.Builder,
    network: trt.INetworkDefinition,
    plan: BuildPlan,
    calibrator: Optional[trt.IInt8Calibrator] = None,
    calibration_profile: Optional[ShapeProfile] = None,
) -> trt.IBuilderConfig:
    """Builder config from the plan: flags, workspace pool, profile, calibrator, DLA (the timing cache is separate)."""
    import tensorrt as trt

    config = builder.create_builder_config()
    if plan.workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
    if plan.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    if plan.int8_flag:
        config.set_flag(trt.BuilderFlag.INT8)
    if plan.profile is not None:
        name = network.get_input(0).name
        profile = builder.create_optimization_profile()
        profile.set_shape(name, trt.Dims(list(plan.profile.min)), trt.Dims(list(plan.profile.opt)), trt.Dims(list(plan.profile.max)))
        if config.add_optimization_profile(profile) < 0:
            raise EdgeUnetError(f"TensorRT refused the shape profile {plan.profile.to_dict()}; check --shapes (min <= opt <= max)")
    if plan.implicit_calibrator is not None:
        if calibrator is None:
            raise EdgeUnetError(f"--calibrator {plan.implicit_calibrator} needs calibration images (--calib-data DIR)")
        config.int8_calibrator = calibrator
        if calibration_profile is not None:
            # Calibration feeds whole batches of one static shape: a profile of exactly that shape.
            name = network.get_input(0).name
            calib = builder.create_optimization_profile()
            shape = trt.Dims(list(calibration_profile.opt))
            calib.set_shape(name, shape, shape, shape)
            if not config.set_calibration_profile(calib):
                raise EdgeUnetError(f"TensorRT refused the calibration shape {list(calibration_profile.opt)}; rebuild from the same ONNX")
    if plan.dla_core is not None:
        if builder.num_DLA_cores <= plan.dla_core:
            raise EdgeUnetError(
                f"--dla-core {plan.dla_core}: this device has {builder.num_DLA_cores} DLA core(s); DLA exists on Jetson Xavier/Orin only"
            )
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = plan.dla_core
    if plan.gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    return config


def apply_timing_cache(config: trt.IBuilderConfig, blob: Optional[bytes]) -> Optional[str]:
    """Reuse `blob` as the timing cache when TensorRT accepts it, else start a new one; returns a note when not reused.

    `set_timing_cache` returns False for a cache made by another TensorRT version or GPU, and `create_timing_cache`
    returns None for a blob that is not a cache at all (a damaged or foreign file; trtexec checks for null too):
    either way the build goes on with a fresh cache, which is then what gets written back, so the next build reuses it.
    """
    note = None
    if blob:
        cache = config.create_timing_cache(blob)
        if cache is not None and config.set_timing_cache(cache, False):
            return None
        what = "is not a timing cache (damaged?)" if cache is None else "was made by another TensorRT version or GPU"
        note = f"the --timing-cache file {what}; building with a new one"
    fresh = config.create_timing_cache(b"")
    if fresh is None or not config.set_timing_cache(fresh, False):
        note = "TensorRT did not take a timing cache; building without one"
    return note


def build_serialized(builder: trt.Builder, network: trt.INetworkDefinition, config: trt.IBuilderConfig) -> bytes:
    """The serialized engine (plan) bytes; a failed build is one line pointing at the log above it."""
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgeUnetError("TensorRT could not build the engine (see its log above); try --workspace 2048 or check `edgeunet inspect`")
    return bytes(memoryview(serialized))


def serialize_timing_cache(config: trt.IBuilderConfig) -> bytes:
    """The config's timing cache, or b"" when it holds none (then nothing is written: the engine is never lost for it)."""
    cache = config.get_timing_cache()
    return b"" if cache is None else bytes(memoryview(cache.serialize()))


@dataclass
class BuiltEngine:
    """What a build produced, for the sidecar."""

    plan_bytes: bytes
    timing_cache: bytes
    input_name: str
    input_shape: Tuple[int, ...]
    profile: Optional[ShapeProfile]
    seconds: float
    notes: List[str] = field(default_factory=list)


def _fit_calibration(calibration: Optional[CalibrationSet], shape: Tuple[int, ...]) -> Optional[CalibrationSet]:
    """A static batch-N input reads N images behind every calibration pointer: batch the set to match."""
    if calibration is None or shape[0] <= 0 or shape[0] == calibration.batch_size:
        return calibration
    if calibration.batch_size != 1:
        raise EdgeUnetError(
            f"the ONNX input has a fixed batch of {shape[0]} but calibration was prepared in batches of {calibration.batch_size}; "
            "rebuild from the same ONNX"
        )
    return dataclasses.replace(calibration, batch_size=shape[0])


def _calibration_profile(calibration: Optional[CalibrationSet], profile: Optional[ShapeProfile]) -> Optional[ShapeProfile]:
    """With a profile (dynamic input), calibration needs its own static one of the calibration batch's shape."""
    if calibration is None or profile is None:
        return None
    one = tuple(int(d) for d in calibration.batch_shape)
    return ShapeProfile(one, one, one)


def build_engine(
    onnx_path: Path,
    plan: BuildPlan,
    default_shape: Sequence[int],
    requested_shapes: Optional[ShapeProfile] = None,
    calibration: Optional[CalibrationSet] = None,
    timing_cache: Optional[bytes] = None,
    verbose: bool = False,
) -> Tuple[BuiltEngine, BuildPlan]:
    """Network from ONNX -> config -> engine. Returns the bytes and the plan actually used (profile resolved).

    A failure inside TensorRT or CUDA (a pybind RuntimeError, a calibration image that could not be read) is one
    EdgeUnetError line, never a traceback, and nothing is written by this function either way.
    """
    try:
        return _build_engine(onnx_path, plan, default_shape, requested_shapes, calibration, timing_cache, verbose)
    except EdgeUnetError:
        raise
    except Exception as exc:  # noqa: BLE001 - TensorRT/pycuda raise RuntimeError, TypeError, pycuda.driver.Error, ...
        raise EdgeUnetError(f"TensorRT failed while building the engine ({type(exc).__name__}: {exc}); see its log above") from None


def _build_engine(
    onnx_path: Path,
    plan: BuildPlan,
    default_shape: Sequence[int],
    requested_shapes: Optional[ShapeProfile],
    calibration: Optional[CalibrationSet],
    timing_cache: Optional[bytes],
    verbose: bool,
) -> Tuple[BuiltEngine, BuildPlan]:
    import_tensorrt()  # absent or broken: one line (exit 3)
    import tensorrt as trt

    start = time.perf_counter()
    logger = shared_logger(verbose)
    builder = trt.Builder(logger)
    network = create_network(builder, plan)
    parser = parse_onnx(network, logger, onnx_path)
    name, shape = network_input(network)
    profile = resolve_profile([d if d > 0 else None for d in shape], requested_shapes, default_shape)
    if plan.dla_core is not None and profile is not None and not profile.is_static:
        raise EdgeUnetError("--dla-core: the DLA needs static shapes; give --shapes with min = opt = max")
    plan = dataclasses.replace(plan, profile=profile)
    calibration = _fit_calibration(calibration, shape)
    calib_profile = _calibration_profile(calibration, profile)
    calibrator = None
    if plan.implicit_calibrator is not None:
        if calibration is None:
            raise EdgeUnetError(f"--calibrator {plan.implicit_calibrator} needs calibration images (--calib-data DIR)")
        from edgeunet.trt.calibrator import make_calibrator

        calibrator = make_calibrator(plan.implicit_calibrator, calibration)
    try:
        config = create_config(builder, network, plan, calibrator, calib_profile)
        notes = [note for note in [apply_timing_cache(config, timing_cache)] if note]
        plan_bytes = build_serialized(builder, network, config)
        if calibrator is not None:
            calibrator.feeder.raise_if_failed()  # TensorRT swallowed it; the engine must not be used
        cache_bytes = serialize_timing_cache(config)
    finally:
        if calibrator is not None:
            calibrator.feeder.close()
    del parser
    return (
        BuiltEngine(
            plan_bytes=plan_bytes,
            timing_cache=cache_bytes,
            input_name=name,
            input_shape=shape,
            profile=profile,
            seconds=time.perf_counter() - start,
            notes=notes,
        ),
        plan,
    )
