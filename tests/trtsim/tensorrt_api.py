"""The emulated `tensorrt` module: the classes edgeunet calls, held to the version's json surface.

Each semantic rule carries its source: docs/TENSORRT.md, shared/trt-api (json, operator matrix), NVIDIA's API
documentation (NvInfer.h / NvInferRuntime.h text as published on docs.nvidia.com), or a TensorRT issue thread.
Build with `build_module()` after selecting a version; the shim tests/trtsim/site/tensorrt/__init__.py does that.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from onnx import TensorProto

from tests.trtsim import cuda, onnxcheck, plan, resources
from tests.trtsim.guard import Emulated, EnumValue, GuardedModule, build_module, make_enum
from tests.trtsim.pybind import TRAMPOLINES, IHostMemory, mark_initialised, trampoline
from tests.trtsim.state import STATE
from tests.trtsim.surface import VERSIONS, enum_values, major, surface

# The enums of the installed version (rebuilt by build_module: the json decides which values exist).
ENUMS: Dict[str, Any] = {}

PYTHON_LEVEL = ("__version__", "nptype")  # defined by the wheel's tensorrt/__init__.py, not by the bindings json


def _enum(name: str) -> Any:
    return ENUMS[name]


def _dtype_name(elem: int) -> str:
    """ONNX element type -> DataType name of an engine tensor (8.x casts INT64 I/O down to INT32: 8.5/8.6 matrix note)."""
    name = {TensorProto.FLOAT: "FLOAT", TensorProto.FLOAT16: "HALF", TensorProto.INT8: "INT8", TensorProto.INT32: "INT32",
            TensorProto.INT64: "INT64", TensorProto.UINT8: "UINT8", TensorProto.BOOL: "BOOL"}.get(elem, "FLOAT")
    if name == "INT64" and "INT64" not in surface(STATE.version).members("DataType"):
        return "INT32"
    return name


NUMPY = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "BOOL": np.bool_}


def nptype(trt_type: EnumValue) -> Any:
    """tensorrt.nptype: DataType -> numpy type (the wheel's tensorrt/__init__.py)."""
    try:
        return NUMPY[trt_type.name]
    except (KeyError, AttributeError):
        raise TypeError(f"Could not resolve TensorRT datatype to an equivalent numpy datatype: {trt_type}") from None


def _register_logger(logger: Any) -> None:
    """TensorRT 8+ keeps one process-wide logger: a Builder/Runtime given a different one logs a warning and
    keeps using the first ("The logger passed into createInferRuntime differs from one already provided for an
    existing builder, runtime, or refitter", TensorRT 8.x/10.x log; NvInferRuntime.h getLogger)."""
    first = STATE.extra.get("global_logger")
    if first is None:
        STATE.extra["global_logger"] = logger
    elif first is not logger:
        _emit(first, "WARNING", "The logger passed into createInferRuntime differs from one already provided for an existing builder, "
              "runtime, or refitter. Uses of the global logger, returned by nvinfer1::getLogger(), will return the existing value.")


def _emit(logger: Any, severity: str, message: str) -> None:
    """Send a message through the user's logger (TensorRT calls ILogger.log) and record it."""
    STATE.recorder.log.append((severity, message))
    if logger is not None:
        logger.log(getattr(_enum("ILogger.Severity"), severity), message)


# -- logging -------------------------------------------------------------------------------------------
class ILogger(Emulated):
    _trt_name = "ILogger"
    _pybind_trampoline = True

    def __init__(self) -> None:
        mark_initialised(self)


class Logger(ILogger):
    """trt.Logger(min_severity): prints messages at or above min_severity to stderr (TensorRT's default logger)."""

    _trt_name = "Logger"

    def __init__(self, min_severity: Any = "WARNING") -> None:
        super().__init__()
        if min_severity == "WARNING":  # the binding's default argument
            min_severity = _enum("ILogger.Severity").WARNING
        if not isinstance(min_severity, EnumValue) or min_severity._enum != "ILogger.Severity":
            raise TypeError("Logger(): incompatible function arguments (min_severity must be a tensorrt.ILogger.Severity)")
        self._min = min_severity
        STATE.recorder.loggers_created += 1

    @property
    def min_severity(self) -> Any:
        return self._min

    @min_severity.setter
    def min_severity(self, value: Any) -> None:
        self._min = value

    def log(self, severity: Any, msg: str) -> None:
        if int(severity) <= int(self._min):
            print(f"[trtsim] [{severity.name[0]}] {msg}", file=sys.stderr)


# -- shapes and tensors --------------------------------------------------------------------------------
class Dims(Emulated):
    _trt_name = "Dims"

    def __init__(self, shape: Sequence[int] = ()) -> None:
        self._dims = tuple(int(d) for d in shape)

    def __len__(self) -> int:
        return len(self._dims)

    def __getitem__(self, index: int) -> int:
        return self._dims[index]

    def __iter__(self) -> Any:
        return iter(self._dims)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dims):
            return self._dims == other._dims
        if isinstance(other, (tuple, list)):
            return self._dims == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"({', '.join(map(str, self._dims))})"

    __str__ = __repr__


def _shape(value: Any) -> Tuple[int, ...]:
    return tuple(int(d) for d in value)


class ITensor(Emulated):
    _trt_name = "ITensor"

    def __init__(self, io: onnxcheck.Io, is_input: bool) -> None:
        self._io = io
        self._is_input = is_input

    @property
    def name(self) -> str:
        return self._io.name

    @property
    def shape(self) -> Dims:
        return Dims(self._io.shape)

    @property
    def dtype(self) -> Any:
        return getattr(_enum("DataType"), _dtype_name(self._io.elem_type))

    @property
    def is_network_input(self) -> bool:
        return self._is_input

    @property
    def is_network_output(self) -> bool:
        return not self._is_input


class INetworkDefinition(Emulated):
    _trt_name = "INetworkDefinition"

    def __init__(self, builder: "Builder", flags: int) -> None:
        self._builder = builder
        self._flags = flags
        self._parsed: Optional[onnxcheck.Parsed] = None
        v = STATE.version
        # docs/TENSORRT.md: 8.x needs 1 << EXPLICIT_BATCH (else implicit batch); 10.x ignores it; 11.x is always strongly typed.
        # The bit numbers are the version's own (enum-values: STRONGLY_TYPED is 1 in 10.3.0, 0 in 11.1).
        bits = enum_values(v)["NetworkDefinitionCreationFlag"]
        known = sum(1 << b for b in bits.values())
        if flags & ~known:
            raise ValueError(f"create_network: flag bits {flags & ~known:#x} name no NetworkDefinitionCreationFlag of TensorRT {v}")
        self._explicit_batch = major(v) >= 10 or bool(flags & (1 << bits.get("EXPLICIT_BATCH", 0)))
        self._strongly_typed = major(v) >= 11 or ("STRONGLY_TYPED" in bits and bool(flags & (1 << bits["STRONGLY_TYPED"])))

    @property
    def num_inputs(self) -> int:
        return len(self._parsed.inputs) if self._parsed else 0

    @property
    def num_outputs(self) -> int:
        return len(self._parsed.outputs) if self._parsed else 0

    @property
    def num_layers(self) -> int:
        return self._parsed.num_layers if self._parsed else 0

    def get_input(self, index: int) -> Optional[ITensor]:
        if not self._parsed or not 0 <= index < len(self._parsed.inputs):
            return None
        return ITensor(self._parsed.inputs[index], True)

    def get_output(self, index: int) -> Optional[ITensor]:
        if not self._parsed or not 0 <= index < len(self._parsed.outputs):
            return None
        return ITensor(self._parsed.outputs[index], False)

    @property
    def has_implicit_batch_dimension(self) -> bool:
        return not self._explicit_batch


# -- ONNX parser ---------------------------------------------------------------------------------------
class ParserError(Emulated):
    """One parser error (json: code, desc, node, node_name, node_operator, file, line, func)."""

    _trt_name = "ParserError"

    def __init__(self, issue: onnxcheck.Issue) -> None:
        self._issue = issue

    def code(self) -> Any:
        return getattr(_enum("ErrorCode"), self._issue.code, _enum("ErrorCode").UNSUPPORTED_NODE)

    def desc(self) -> str:
        return self._issue.desc

    def node(self) -> int:
        return self._issue.node

    def node_name(self) -> str:
        return self._issue.node_name

    def node_operator(self) -> str:
        return self._issue.node_operator

    def file(self) -> str:
        return "trtsim/onnxcheck.py"

    def line(self) -> int:
        return 0

    def func(self) -> str:
        return "check"

    def __str__(self) -> str:
        where = f"In node {self._issue.node}"
        if major(STATE.version) >= 10:
            where += f" with name: {self._issue.node_name} and operator: {self._issue.node_operator}"
        return f"{where} ({self.func()}): {self._issue.code}: {self._issue.desc}"

    __repr__ = __str__


class OnnxParser(Emulated):
    _trt_name = "OnnxParser"

    def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
        if not isinstance(network, INetworkDefinition) or not isinstance(logger, ILogger):
            raise TypeError("OnnxParser(network, logger): incompatible function arguments (an INetworkDefinition and an ILogger)")
        self._network = network
        self._logger = logger
        self._errors: List[onnxcheck.Issue] = []

    def parse(self, model: Any, path: Optional[str] = None) -> bool:
        """onnx-tensorrt parse(model, path): `path` is the model file, whose folder holds any external weights
        (without it they are looked up relative to the working directory, as the C++ parser does)."""
        data, missing = resources.with_external_data(bytes(model), path)
        if missing:
            self._errors.append(onnxcheck.Issue("INVALID_VALUE", missing))
            _emit(self._logger, "ERROR", missing)
            return False
        parsed = onnxcheck.parse(data, STATE.version, self._network._explicit_batch)
        self._errors.extend(parsed.issues)
        for issue in parsed.issues:
            _emit(self._logger, "ERROR", f"ModelImporter: {issue.code}: {issue.desc}")
        if parsed.issues:
            return False
        self._network._parsed = parsed
        return True

    def parse_from_file(self, model: str) -> bool:
        path = Path(model)
        if not path.is_file():
            self._errors.append(onnxcheck.Issue("INVALID_VALUE", f"failed to open file {model}"))
            _emit(self._logger, "ERROR", f"Failed to open file: {model}")
            return False
        return self.parse(path.read_bytes(), str(path))

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int) -> Optional[ParserError]:
        return ParserError(self._errors[index]) if 0 <= index < len(self._errors) else None

    def clear_errors(self) -> None:
        self._errors = []


# -- builder -------------------------------------------------------------------------------------------
class IOptimizationProfile(Emulated):
    _trt_name = "IOptimizationProfile"

    def __init__(self) -> None:
        self._shapes: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]] = {}
        self._valid = True
        self._logger: Any = None

    def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # noqa: A002 - the binding's parameter names
        lo, mid, hi = _shape(min), _shape(opt), _shape(max)
        # NvInfer.h IOptimizationProfile::setDimensions: same rank, 0 <= min <= opt <= max, else false (profile invalid)
        if not len(lo) == len(mid) == len(hi) or any(not (0 <= a <= b <= c) for a, b, c in zip(lo, mid, hi)):
            self._valid = False
            _emit(self._logger, "ERROR", f"IOptimizationProfile::setDimensions: {input}: need min <= opt <= max ({lo}, {mid}, {hi})")
            return
        self._shapes[input] = (lo, mid, hi)

    def get_shape(self, input: str) -> List[Dims]:  # noqa: A002
        shapes = self._shapes.get(input)
        return [Dims(s) for s in shapes] if shapes else []

    def __bool__(self) -> bool:
        return self._valid


def _timing_blob(entries: int) -> bytes:
    head = {"version": STATE.version, "gpu": STATE.gpu.name, "cc": list(STATE.gpu.compute_capability), "entries": entries}
    return b"TRTSIMTC" + json.dumps(head, sort_keys=True).encode("utf-8")


class ITimingCache(Emulated):
    _trt_name = "ITimingCache"

    def __init__(self, header: Dict[str, Any]) -> None:
        self._header = header

    def serialize(self) -> IHostMemory:
        return IHostMemory(b"TRTSIMTC" + json.dumps(self._header, sort_keys=True).encode("utf-8"))

    def _matches(self) -> bool:
        h = self._header
        return h["version"] == STATE.version and h["gpu"] == STATE.gpu.name and tuple(h["cc"]) == STATE.gpu.compute_capability

    def combine(self, input_cache: "ITimingCache", ignore_mismatch: bool) -> bool:
        # ITimingCache::combine docs: same TensorRT version required; another device needs ignore_mismatch.
        if input_cache._header["version"] != STATE.version or (not input_cache._matches() and not ignore_mismatch):
            return False
        self._header["entries"] += input_cache._header["entries"]
        return True

    def reset(self) -> bool:
        self._header["entries"] = 0
        return True


class IBuilderConfig(Emulated):
    _trt_name = "IBuilderConfig"

    def __init__(self, builder: "Builder") -> None:
        self._builder = builder
        self._flags: set = set()
        self._pools: Dict[str, int] = {}
        self._profiles: List[IOptimizationProfile] = []
        self._calibrator: Any = None
        self._calibration_profile: Optional[IOptimizationProfile] = None
        self._device_type = _enum("DeviceType").GPU
        self._dla_core = -1  # NvInfer.h IBuilderConfig::setDLACore: "Defaults to -1"
        self._timing_cache: Optional[ITimingCache] = None

    def set_flag(self, flag: EnumValue) -> None:
        self._flags.add(flag.name)

    def clear_flag(self, flag: EnumValue) -> None:
        self._flags.discard(flag.name)

    def get_flag(self, flag: EnumValue) -> bool:
        return flag.name in self._flags

    @property
    def flags(self) -> int:
        """IBuilderConfig.flags: bit `1 << value` per enabled flag, with the version's own values (NvInfer.h BuilderFlags)."""
        return sum(1 << int(getattr(_enum("BuilderFlag"), f)) for f in self._flags)

    def set_memory_pool_limit(self, pool: EnumValue, pool_size: int) -> None:
        message = resources.pool_problem(pool, int(pool_size))
        if message:
            _emit(self._builder._logger, "ERROR", message)  # TensorRT logs the parameter check and keeps the old limit
            return
        self._pools[pool.name] = int(pool_size)

    def get_memory_pool_limit(self, pool: EnumValue) -> int:
        return self._pools.get(pool.name, STATE.gpu.total_memory if pool.name == "WORKSPACE" else 0)

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        # NvInfer.h addOptimizationProfile: returns the index, or -1 if the profile is invalid
        if not profile:
            _emit(self._builder._logger, "ERROR", "addOptimizationProfile: the profile is invalid")
            return -1
        self._profiles.append(profile)
        return len(self._profiles) - 1

    @property
    def num_optimization_profiles(self) -> int:
        return len(self._profiles)

    @property
    def int8_calibrator(self) -> Any:
        return self._calibrator

    @int8_calibrator.setter
    def int8_calibrator(self, calibrator: Any) -> None:
        if calibrator is not None and not isinstance(calibrator, IInt8Calibrator):
            raise TypeError("int8_calibrator must be a tensorrt.IInt8Calibrator")
        self._calibrator = calibrator

    def set_calibration_profile(self, profile: IOptimizationProfile) -> bool:
        if not profile:
            return False
        self._calibration_profile = profile
        return True

    def get_calibration_profile(self) -> Optional[IOptimizationProfile]:
        return self._calibration_profile

    @property
    def default_device_type(self) -> Any:
        return self._device_type

    @default_device_type.setter
    def default_device_type(self, value: EnumValue) -> None:
        self._device_type = value

    @property
    def DLA_core(self) -> int:  # noqa: N802 - the binding's name
        return self._dla_core

    @DLA_core.setter
    def DLA_core(self, value: int) -> None:  # noqa: N802
        self._dla_core = int(value)

    def create_timing_cache(self, serialized_timing_cache: bytes) -> Optional[ITimingCache]:
        """Empty bytes: a new cache. A blob that is not a timing cache: TensorRT logs a serialization error and
        "The timing cache will not be used!" (NVIDIA/TensorRT#3566, 8.6.1) and returns None (nullptr: trtexec's
        buildEngine checks `if (!timingCache)` for a damaged cache file)."""
        data = bytes(serialized_timing_cache)
        logger = self._builder._logger
        if not data:
            STATE.recorder.timing_cache.append("created-empty")
            return ITimingCache({"version": STATE.version, "gpu": STATE.gpu.name, "cc": list(STATE.gpu.compute_capability), "entries": 0})
        try:
            if not data.startswith(b"TRTSIMTC"):
                raise ValueError("magic tag does not match")
            header = json.loads(data[8:].decode("utf-8"))
            assert {"version", "gpu", "cc", "entries"} <= set(header)
        except (ValueError, AssertionError, UnicodeDecodeError) as exc:
            _emit(logger, "ERROR", f"1: Serialization (timing cache: {exc})")
            _emit(logger, "ERROR", "4: The timing cache will not be used!")
            STATE.recorder.timing_cache.append("corrupt")
            return None
        STATE.recorder.timing_cache.append("created-from-blob")
        return ITimingCache(header)

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
        """IBuilderConfig::setTimingCache: false when the cache was made by another TensorRT version, or on another
        device unless ignore_mismatch; the config then holds no cache (getTimingCache: nullptr if not set)."""
        if not isinstance(cache, ITimingCache):
            raise TypeError("set_timing_cache(): incompatible function arguments (cache must be a tensorrt.ITimingCache)")
        if cache._header["version"] != STATE.version or (not cache._matches() and not ignore_mismatch):
            _emit(self._builder._logger, "ERROR", "setTimingCache: the timing cache was created by another TensorRT version or device")
            STATE.recorder.timing_cache.append("set-rejected")
            return False
        self._timing_cache = cache
        STATE.recorder.timing_cache.append("set-accepted")
        return True

    def get_timing_cache(self) -> Optional[ITimingCache]:
        return self._timing_cache


class _LoggerOwner(Emulated):
    """Builder(logger) / Runtime(logger): the pybind signature takes an ILogger, and TensorRT keeps the first one."""

    def __init__(self, logger: ILogger) -> None:
        if not isinstance(logger, ILogger):
            raise TypeError(f"{self._trt_name}(logger): logger must be a tensorrt.ILogger")
        _register_logger(logger)
        self._logger = logger

    @property
    def logger(self) -> ILogger:
        return self._logger


class Builder(_LoggerOwner):
    _trt_name = "Builder"

    def __init__(self, logger: ILogger) -> None:
        super().__init__(logger)
        STATE.recorder.builders_created += 1

    @property
    def num_DLA_cores(self) -> int:  # noqa: N802
        return STATE.gpu.dla_cores

    @property
    def platform_has_fast_fp16(self) -> bool:
        return True

    @property
    def platform_has_fast_int8(self) -> bool:
        return True

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        return INetworkDefinition(self, int(flags))

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig(self)

    def create_optimization_profile(self) -> IOptimizationProfile:
        profile = IOptimizationProfile()
        profile._logger = self._logger
        return profile

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> Optional[IHostMemory]:
        """The engine blob, or None with the reason logged as ERROR (NvInfer.h buildSerializedNetwork: nullptr on failure)."""
        from tests.trtsim.build import build

        blob = build(self, network, config)
        if blob is None:
            return None
        STATE.recorder.engines_built += 1
        return IHostMemory(blob)


# -- calibrators (8.x / 10.x only: absent from the 11.1 json) -------------------------------------------
class IInt8Calibrator(Emulated):
    _trt_name = "IInt8Calibrator"
    _algorithm = "EntropyCalibration2"
    _pybind_trampoline = True

    def __init__(self) -> None:
        mark_initialised(self)


class IInt8EntropyCalibrator2(IInt8Calibrator):
    _trt_name = "IInt8EntropyCalibrator2"
    _algorithm = "EntropyCalibration2"


class IInt8MinMaxCalibrator(IInt8Calibrator):
    _trt_name = "IInt8MinMaxCalibrator"
    _algorithm = "MinMaxCalibration"


IInt8EntropyCalibrator = trampoline("IInt8EntropyCalibrator", IInt8Calibrator)
IInt8LegacyCalibrator = trampoline("IInt8LegacyCalibrator", IInt8Calibrator)
OTHER_TRAMPOLINES = tuple(trampoline(name) for name in TRAMPOLINES)


# -- runtime, engine, execution context --------------------------------------------------------------
class Runtime(_LoggerOwner):
    _trt_name = "Runtime"

    def __init__(self, logger: ILogger) -> None:
        super().__init__(logger)
        self._dla_core = -1  # NvInferRuntime.h IRuntime::setDLACore: "Defaults to -1"
        STATE.recorder.runtimes_created += 1

    @property
    def DLA_core(self) -> int:  # noqa: N802
        return self._dla_core

    @DLA_core.setter
    def DLA_core(self, value: int) -> None:  # noqa: N802
        self._dla_core = int(value)

    @property
    def num_DLA_cores(self) -> int:  # noqa: N802
        return STATE.gpu.dla_cores

    def deserialize_cuda_engine(self, serialized_engine: Any) -> Optional["ICudaEngine"]:
        """None with an ERROR for a damaged blob, another version's or another GPU's engine (NvInferRuntime.h
        deserializeCudaEngine returns nullptr; messages as TensorRT 8.6 logs them: "The engine plan file is not
        compatible with this version of TensorRT ..." / "... generated on an incompatible device ...")."""
        try:
            header, onnx_bytes = plan.deserialize(bytes(serialized_engine))
        except (plan.PlanError, ValueError, TypeError, KeyError) as exc:
            return self._fail(f"1: [stdArchiveReader] Serialization assertion failed: {exc}")
        if header.version != STATE.version:
            return self._fail(
                f"6: The engine plan file is not compatible with this version of TensorRT, expecting library version "
                f"{VERSIONS[STATE.version][2]} got {header.version_text}, please rebuild."
            )
        if tuple(header.compute_capability) != STATE.gpu.compute_capability:
            want = ".".join(map(str, header.compute_capability))
            have = ".".join(map(str, STATE.gpu.compute_capability))
            return self._fail(f"6: The engine plan file is generated on an incompatible device, expecting compute {have} got compute {want}, please rebuild.")
        if header.device_type == "DLA":
            core = self._dla_core if self._dla_core >= 0 else 0
            if core != header.dla_core:
                STATE.recorder.notes.append(f"DLA engine built for core {header.dla_core} runs on core {core} (runtime.DLA_core={self._dla_core})")
            STATE.recorder.engine_dla_cores.append(core)
        STATE.recorder.engines_loaded += 1
        return ICudaEngine(header, onnx_bytes)

    def _fail(self, message: str) -> None:
        _emit(self._logger, "ERROR", message)
        STATE.recorder.load_failures.append(message)
        return None


class ICudaEngine(Emulated):
    _trt_name = "ICudaEngine"

    def __init__(self, header: plan.PlanHeader, onnx_bytes: bytes) -> None:
        self._header = header
        self._onnx = onnx_bytes
        self._io = {io["name"]: io for io in header.io}
        self._order = [io["name"] for io in header.io]
        self._session: Any = None

    def _sess(self) -> Any:
        if self._session is None:
            self._session = plan.session(self._onnx)
        return self._session

    @property
    def num_io_tensors(self) -> int:
        return len(self._order)

    def get_tensor_name(self, index: int) -> str:
        if not 0 <= index < len(self._order):
            raise IndexError("Index out of range")
        return self._order[index]

    def _name(self, name: Any) -> str:
        if not isinstance(name, str):  # pybind: a str parameter takes no None
            raise TypeError(f"incompatible function arguments: tensor name must be str, got {type(name).__name__}")
        return name

    def get_tensor_mode(self, name: str) -> Any:
        io = self._io.get(self._name(name))
        return getattr(_enum("TensorIOMode"), io["mode"] if io else "NONE")

    def get_tensor_shape(self, name: str) -> Dims:
        io = self._io.get(self._name(name))
        return Dims(io["shape"] if io else ())

    def get_tensor_dtype(self, name: str) -> Any:
        io = self._io.get(self._name(name))
        return getattr(_enum("DataType"), io["dtype"] if io else "FLOAT")

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> List[Dims]:
        if not 0 <= profile_index < len(self._header.profiles):
            raise IndexError("profile index out of range")
        shapes = self._header.profiles[profile_index].get(name)
        if shapes is None:
            return []
        return [Dims(shapes["min"]), Dims(shapes["opt"]), Dims(shapes["max"])]

    @property
    def num_optimization_profiles(self) -> int:
        return len(self._header.profiles)

    @property
    def num_layers(self) -> int:
        return self._header.num_layers

    @property
    def name(self) -> str:
        return "trtsim engine"

    @property
    def device_memory_size(self) -> int:
        return 1 << 20

    @property
    def device_memory_size_v2(self) -> int:
        return 1 << 20

    def create_execution_context(self) -> "IExecutionContext":
        return IExecutionContext(self)

    def serialize(self) -> IHostMemory:
        return IHostMemory(plan.serialize(self._header, self._onnx))


class IExecutionContext(Emulated):
    _trt_name = "IExecutionContext"

    def __init__(self, engine: ICudaEngine) -> None:
        self._engine = engine
        self._shapes: Dict[str, Tuple[int, ...]] = {}
        self._addresses: Dict[str, int] = {}
        self._out_shapes: Dict[Tuple[Tuple[str, Tuple[int, ...]], ...], Dict[str, Tuple[int, ...]]] = {}
        self._profile = 0

    @property
    def engine(self) -> ICudaEngine:
        return self._engine

    @property
    def active_optimization_profile(self) -> int:
        return self._profile

    def set_optimization_profile_async(self, profile_index: int, stream_handle: int) -> bool:
        """NvInferRuntime.h setOptimizationProfileAsync: false for an index outside [0, num profiles); the input
        shapes set so far are forgotten (they must be set again for the new profile)."""
        if not 0 <= int(profile_index) < len(self._engine._header.profiles):
            self._log_error(f"IExecutionContext::setOptimizationProfileAsync: Error Code 3: API Usage Error (profile index {profile_index} "
                            f"is out of range; the engine has {len(self._engine._header.profiles)})")
            return False
        self._profile = int(profile_index)
        self._shapes.clear()
        return True

    def _log_error(self, message: str) -> None:
        STATE.recorder.log.append(("ERROR", message))
        print(f"[trtsim] [E] {message}", file=sys.stderr)

    def set_input_shape(self, name: str, shape: Any) -> bool:
        """NvInferRuntime.h setInputShape: false (and an error logged) for a non-input name or a shape outside the
        active profile's [min, max]; fixed dims must match."""
        io = self._engine._io.get(name)
        dims = _shape(shape)
        if io is None or io["mode"] != "INPUT":
            self._log_error(f"IExecutionContext::setInputShape: {name} is not an input tensor")
            return False
        want = tuple(io["shape"])
        ok = len(dims) == len(want) and all(w < 0 or w == d for w, d in zip(want, dims))
        prof = self._engine._header.profiles[self._profile].get(name) if self._engine._header.profiles else None
        if ok and prof is not None:
            ok = all(a <= d <= b for a, d, b in zip(prof["min"], dims, prof["max"]))
        if not ok:
            self._log_error(f"IExecutionContext::setInputShape: Error Code 3: API Usage Error ({name} shape {dims} is outside the profile)")
            return False
        self._shapes[name] = dims
        return True

    def _inputs(self) -> List[str]:
        return [n for n in self._engine._order if self._engine._io[n]["mode"] == "INPUT"]

    def _resolved_outputs(self) -> Optional[Dict[str, Tuple[int, ...]]]:
        shapes: Dict[str, Tuple[int, ...]] = {}
        for name in self._inputs():
            shape = self._shapes.get(name, tuple(self._engine._io[name]["shape"]))
            if any(d < 0 for d in shape):
                return None
            shapes[name] = shape
        key = tuple(sorted(shapes.items()))
        if key not in self._out_shapes:
            dtypes = {n: NUMPY[self._engine._io[n]["dtype"]] for n in shapes}
            result = plan.output_shapes(self._engine._sess(), self._engine._header, shapes, dtypes)
            self._out_shapes[key] = result or {}
        return self._out_shapes[key]

    def get_tensor_shape(self, name: str) -> Dims:
        io = self._engine._io.get(name)
        if io is None:
            return Dims(())
        if io["mode"] == "INPUT":
            return Dims(self._shapes.get(name, io["shape"]))
        outputs = self._resolved_outputs()
        return Dims(outputs[name] if outputs and name in outputs else io["shape"])

    def set_tensor_address(self, name: str, memory: int) -> bool:
        """NvInferRuntime.h setTensorAddress: "The pointer must have at least 256-byte alignment" (false otherwise)."""
        if name not in self._engine._io:
            self._log_error(f"IExecutionContext::setTensorAddress: {name} is not an I/O tensor")
            return False
        if int(memory) % resources.TENSOR_ALIGNMENT:
            self._log_error(f"IExecutionContext::setTensorAddress: Error Code 3: API Usage Error (Parameter check failed, condition: "
                            f"(reinterpret_cast<uintptr_t>(data) % {resources.TENSOR_ALIGNMENT}) == 0; address {int(memory):#x} of {name})")
            return False
        self._addresses[name] = int(memory)
        return True

    def get_tensor_address(self, name: str) -> int:
        return self._addresses.get(name, 0)

    def execute_async_v3(self, stream_handle: int) -> bool:
        """Enqueues the engine on the stream (NvInferRuntime.h enqueueV3: false if an address or a dynamic input
        shape is missing; LogicError if no context is current). The work runs when the stream is waited for
        (tests/trtsim/cuda.py): inputs are read from device memory then, and outputs written then. On the default
        stream TensorRT warns and synchronizes it itself."""
        if not cuda.MEMORY.stack():
            raise cuda.LogicError("execute_async_v3: invalid device context (no CUDA context is current in this thread)")
        handle = int(stream_handle)
        if handle != 0 and handle not in cuda.MEMORY.stream_handles:
            self._log_error(f"enqueueV3: {stream_handle:#x} is not a CUDA stream")
            return False
        missing = [n for n in self._engine._order if n not in self._addresses]
        outputs = self._resolved_outputs()
        if missing or outputs is None:
            what = f"address of {', '.join(missing)} not set" if missing else "input shapes not set"
            self._log_error(f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error ({what})")
            return False
        shapes = {n: self._shapes.get(n, tuple(self._engine._io[n]["shape"])) for n in self._inputs()}
        addresses = dict(self._addresses)
        cuda.enqueue(handle, "execute_async_v3", lambda: self._run(shapes, addresses), cuda.EXECUTE_MS)
        if handle == 0:
            _emit(None, "WARNING", "Using default stream in enqueueV3() may lead to performance issues due to additional calls to "
                  "cudaStreamSynchronize() by TensorRT to ensure correct synchronization. Please use non-default stream instead.")
            cuda.flush(0)
        return True

    def _run(self, shapes: Dict[str, Tuple[int, ...]], addresses: Dict[str, int]) -> None:
        """The enqueued work: read inputs from device memory, run, write outputs (bounds-checked)."""
        feeds: Dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            dtype = np.dtype(NUMPY[self._engine._io[name]["dtype"]])
            data = cuda.read(addresses[name], int(np.prod(shape)) * dtype.itemsize, f"execute_async_v3 input {name}")
            feeds[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        results = plan.run(self._engine._sess(), self._engine._header, feeds)
        for name in self._engine._order:
            if self._engine._io[name]["mode"] != "OUTPUT":
                continue
            array = np.ascontiguousarray(results[name], dtype=NUMPY[self._engine._io[name]["dtype"]])
            cuda.write(addresses[name], array.tobytes(), f"execute_async_v3 output {name}")
        STATE.recorder.executions += 1


# -- the module ----------------------------------------------------------------------------------------
CLASSES = (ILogger, Logger, Dims, ITensor, INetworkDefinition, ParserError, OnnxParser, IHostMemory, IOptimizationProfile,
           ITimingCache, IBuilderConfig, Builder, IInt8Calibrator, IInt8EntropyCalibrator2, IInt8MinMaxCalibrator,
           IInt8EntropyCalibrator, IInt8LegacyCalibrator, Runtime, ICudaEngine, IExecutionContext, *OTHER_TRAMPOLINES)


def build_tensorrt() -> GuardedModule:
    """A fresh `tensorrt` module for the selected version (its enums hold exactly the json's values)."""
    broken = STATE.extra.get("import_error") or os.environ.get("EDGEUNET_TRTSIM_IMPORT_ERROR")
    if broken:  # a half-installed TensorRT: the bindings load but libnvinfer does not (dlopen -> OSError)
        raise OSError(broken)
    ENUMS.clear()
    api = surface(STATE.version).api
    for name, values in enum_values(STATE.version).items():  # every Python enum, numbered as the headers number it
        if name in api:
            ENUMS[name] = make_enum(name, values)
    severity = ENUMS["ILogger.Severity"]
    type.__setattr__(ILogger, "Severity", severity)
    for value in severity.__members__.values():  # pybind export_values(): trt.Logger.WARNING
        type.__setattr__(ILogger, value.name, value)
    namespace: Dict[str, Any] = {cls.__dict__["_trt_name"]: cls for cls in CLASSES}
    namespace.update({k: v for k, v in ENUMS.items() if "." not in k})
    namespace["__version__"] = VERSIONS[STATE.version][2]
    namespace["nptype"] = nptype
    module = build_module("tensorrt", namespace, PYTHON_LEVEL)
    module.__dict__["__trtsim__"] = True
    return module
