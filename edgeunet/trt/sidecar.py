"""The engine-file format: `<engine>.json` beside every engine, written after a build and checked before TensorRT sees the engine.

Why a sidecar: an engine only runs with the TensorRT version and GPU that built it, and a truncated or replaced
file must be caught by its sha256, not by a TensorRT crash. The runtime (loading), deploy (Triton) and export
(building) all need this format, so the one module that writes it (`write_engine_sidecar`) and reads it
(`read_sidecar`, `check_engine_file`, `check_compatible`, `spec_of_sidecar`) lives here, below all of them, and
imports no TensorRT (not even at load: `BuiltEngine`/`BuildPlan` are only named for the type checker).
"""

from __future__ import annotations

import datetime
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

from edgeunet.core.atomic import sha256_file, write_json
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.schema import Rule, check_fields, choice, clean_text, text
from edgeunet.core.spec import ModelSpec
from edgeunet.core.version import __version__

if TYPE_CHECKING:
    from edgeunet.trt.build import BuiltEngine
    from edgeunet.trt.plan import BuildPlan

SIDECAR_FORMAT = "edgeunet-engine-sidecar"
SIDECAR_VERSION = 1
REQUIRED_KEYS = ("format", "engine_sha256", "tensorrt_version", "gpu", "precision", "spec", "build_command")
REBUILD = "rebuild the engine with `edgeunet build-engine MODEL.onnx`"


def _pattern(regex: str, what: str) -> Rule:
    compiled = re.compile(regex)
    return lambda value: None if isinstance(value, str) and compiled.fullmatch(value) else what


def _mapping(value: Any) -> Optional[str]:
    return None if isinstance(value, dict) else "an object"


# A sidecar may come with an engine from someone else: every field the code reads is checked here, once.
SIDECAR_RULES: Dict[str, Rule] = {
    "engine_sha256": _pattern(r"[0-9a-f]{64}", "64 hexadecimal digits"),
    "tensorrt_version": _pattern(r"\d{1,3}(\.\d{1,4}){0,3}", "a version such as 10.3.0"),
    "gpu": _mapping,
    "precision": choice(("fp32", "fp16", "int8")),
    "spec": _mapping,
    "build_command": text(4000),
    "build": lambda v: None if v is None or isinstance(v, dict) else "an object",
}
GPU_RULES: Dict[str, Rule] = {"name": text(200), "compute_capability": _pattern(r"\d{1,2}\.\d{1,2}", "major.minor such as 8.7")}


BUILD_FLAGS = ("--fp16", "--int8", "--int8-only", "--strongly-typed")
BUILD_OPTIONS = ("--calibrator", "--calib-data", "--out", "--workspace", "--shapes", "--dla-core", "--timing-cache")
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_./:,+@%=][A-Za-z0-9_./:,+@%=-]{0,255}")


def rebuild_command(data: Dict[str, Any]) -> str:
    """The rebuild line we show, never the file's raw `build_command` text.

    Why: a sidecar that came with someone else's engine would otherwise decide what we tell the user to run.
    The recorded command is accepted only as `edgeunet build-engine FILE.onnx` plus build-engine's own flags,
    each argument plain (letters, digits, ./:,+@%=- and no shell syntax); anything else becomes a generic hint
    built from the checked precision.
    """
    try:
        tokens = shlex.split(str(data.get("build_command", "")))
    except ValueError:
        tokens = []
    if _plain_build_command(tokens):
        return " ".join(tokens)
    flag = {"fp16": " --fp16", "int8": " --int8"}.get(str(data.get("precision")), "")
    return f"edgeunet build-engine MODEL.onnx{flag}"  # MODEL.onnx: the ONNX the engine was built from


def _plain_build_command(tokens: Sequence[str]) -> bool:
    if len(tokens) < 3 or len(tokens) > 24 or list(tokens[:2]) != ["edgeunet", "build-engine"]:
        return False
    if not tokens[2].endswith(".onnx") or not _SAFE_TOKEN.fullmatch(tokens[2]):
        return False
    rest = list(tokens[3:])
    while rest:
        token = rest.pop(0)
        if token in BUILD_FLAGS:
            continue
        if token not in BUILD_OPTIONS or not rest or not _SAFE_TOKEN.fullmatch(rest.pop(0)):
            return False
    return True


def sidecar_path(engine: Path) -> Path:
    """model.int8.engine -> model.int8.engine.json (works for .plan too, and never collides with an ONNX name)."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def write_sidecar(engine: Path, data: Dict[str, Any]) -> Path:
    """The raw writer (sorted keys, atomic); `write_engine_sidecar` decides what a built engine's sidecar holds."""
    path = sidecar_path(engine)
    write_json(path, data, sort_keys=True)
    return path


@dataclass(frozen=True)
class EngineSource:
    """What the builder knows about an engine beyond TensorRT: its ONNX, precision, checks and how to rebuild it."""

    precision: str
    onnx: Path
    onnx_sha256: str
    onnx_precision: str
    spec: ModelSpec
    build_command: str
    calibration: Optional[Dict[str, Any]] = None
    gate: Optional[Dict[str, Any]] = None
    float_layers: Sequence[str] = ()  # layers the Q/DQ ONNX leaves in float (--keep-float, --fallback auto)


def write_engine_sidecar(
    engine: Path, source: EngineSource, built: BuiltEngine, plan: BuildPlan, trt_version: str, gpu_name: str,
    capability: Sequence[int],
) -> Path:
    """`<engine>.json` for the engine just written at `engine` (its sha256 and size are read from the file)."""
    engine = Path(engine)
    data = {
        "format": SIDECAR_FORMAT,
        "sidecar_version": SIDECAR_VERSION,
        "edgeunet_version": __version__,
        "engine": engine.name,
        "engine_sha256": sha256_file(engine),
        "engine_bytes": engine.stat().st_size,
        "tensorrt_version": trt_version,
        "gpu": {"name": gpu_name, "compute_capability": f"{capability[0]}.{capability[1]}"},
        "precision": source.precision,
        "onnx": {"path": str(source.onnx), "sha256": source.onnx_sha256, "precision": source.onnx_precision},
        "input": {"name": built.input_name, "shape": list(built.input_shape)},
        "shapes": plan.profile.to_dict() if plan.profile is not None else None,
        "build": {"network_flags": plan.network_flags, "builder_flags": plan.builder_flags, "strongly_typed": plan.strongly_typed,
                  "calibrator": plan.implicit_calibrator or ("qdq" if source.precision == "int8" else None),
                  "dla_core": plan.dla_core, "workspace_bytes": plan.workspace_bytes, "seconds": round(built.seconds, 2)},
        "calibration": source.calibration or None,
        "float_layers": list(source.float_layers),
        "gate": source.gate,
        "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build_command": source.build_command,
        "spec": source.spec.to_dict(),
    }
    return write_sidecar(engine, data)


def read_sidecar(engine: Path) -> Dict[str, Any]:
    """The sidecar of `engine`, or one line saying what is wrong with it."""
    path = sidecar_path(engine)
    if not path.is_file():
        raise EdgeUnetError(
            f"{engine}: no sidecar {path.name} next to it (it records the TensorRT version and GPU the engine needs); "
            "rebuild with `edgeunet build-engine MODEL.onnx`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise EdgeUnetError(f"{path}: corrupt sidecar (not JSON); rebuild the engine with `edgeunet build-engine MODEL.onnx`") from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT or any(k not in data for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(data, dict) or k not in data]
        raise EdgeUnetError(
            f"{path}: not an edgeunet engine sidecar (missing {', '.join(missing) or 'format'}); rebuild with `edgeunet build-engine MODEL.onnx`"
        )
    check_fields(data, SIDECAR_RULES, str(path), "engine sidecar", REBUILD)
    check_fields(data["gpu"], GPU_RULES, str(path), "engine sidecar gpu", REBUILD, required=("name", "compute_capability"))
    data["gpu"]["name"] = clean_text(data["gpu"]["name"], 200)
    data["recorded_build_command"] = clean_text(data["build_command"], 400)  # kept as data (reports), never offered to run
    data["build_command"] = rebuild_command(data)
    return data


def check_engine_file(engine: Path) -> Dict[str, Any]:
    """Integrity before TensorRT: the file exists, is what was built (sha256), and its sidecar is sound."""
    engine = Path(engine)
    if not engine.exists():
        raise EdgeUnetError(f"{engine}: no such engine file")
    if engine.is_dir():
        raise EdgeUnetError(f"{engine}: is a folder; pass an .engine file")
    sidecar = read_sidecar(engine)
    if engine.stat().st_size == 0 or sha256_file(engine) != sidecar["engine_sha256"]:
        raise EdgeUnetError(
            f"{engine}: engine file is truncated or was changed after it was built (sha256 differs from {sidecar_path(engine).name}); "
            f"rebuild with `{sidecar['build_command']}`"
        )
    return sidecar


def check_compatible(sidecar: Dict[str, Any], engine: Path, trt_version: str, gpu_name: str, capability: Sequence[int]) -> None:
    """Refuse an engine built by another TensorRT version or on another GPU, with the exact rebuild command."""
    built_trt = str(sidecar["tensorrt_version"])
    gpu = sidecar["gpu"]
    built_cc = str(gpu.get("compute_capability", ""))
    here_cc = f"{capability[0]}.{capability[1]}"
    problems = []
    if built_trt != trt_version:
        problems.append(f"TensorRT {built_trt} (this machine: {trt_version})")
    if built_cc != here_cc or str(gpu.get("name", "")) != gpu_name:
        problems.append(f"GPU {gpu.get('name')} sm {built_cc} (this machine: {gpu_name} sm {here_cc})")
    if problems:
        raise EdgeUnetError(
            f"{engine}: built for {' and '.join(problems)}; engines only run where they were built: "
            f"rebuild here with `{sidecar['build_command']}`"
        )


def spec_of_sidecar(sidecar: Dict[str, Any], engine: Path) -> ModelSpec:
    spec = sidecar.get("spec")
    if not isinstance(spec, dict):
        raise EdgeUnetError(f"{sidecar_path(engine)}: corrupt sidecar (spec); rebuild with `{sidecar['build_command']}`")
    return ModelSpec.from_dict(spec, str(sidecar_path(engine)))
