"""Per-version build decisions: plain functions of a parsed TensorRT version tuple and the user's options.

They import nothing from TensorRT, so every per-version rule (8.5 explicit-batch flag, 10.x optional strong
typing, 11.x no precision flags / no implicit calibrators, DLA constraints) is decided and unit-tested on machines
without TensorRT; `edgeunet.trt.build` then applies the resulting `BuildPlan` to the TensorRT API.
A new version rule is a small function here, used by `plan_build`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.precisions import PRECISIONS

Version = Tuple[int, int, int]
Shape = Tuple[int, ...]

MIN_VERSION: Version = (8, 5, 0)
CALIBRATORS = ("qdq", "entropy", "minmax")
IMPLICIT_CALIBRATORS = ("entropy", "minmax")


# -- per-version decisions (no TensorRT needed) -------------------------------------------------
def parse_version(text: str) -> Version:
    """'10.3.0.30' / '8.5.2.2' / '11.4' -> (major, minor, patch); extra build fields are ignored."""
    match = re.match(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
    if not match:
        raise EdgeUnetError(f"cannot read the TensorRT version {text!r}; reinstall TensorRT")
    major, minor, patch = (int(part) if part is not None else 0 for part in match.groups())
    return (major, minor, patch)


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def check_supported(version: Version) -> None:
    """edgeunet relies on name-based I/O and execute_async_v3, which arrived in TensorRT 8.5."""
    if version < MIN_VERSION:
        raise EdgeUnetError(
            f"TensorRT {format_version(version)} is too old: edgeunet needs 8.5 or newer (JetPack 5.1+, or pip install 'edgeunet[trt]')"
        )


def needs_explicit_batch_flag(version: Version) -> bool:
    """8.x builds implicit-batch networks unless told otherwise; 10.x ignores the flag and 11.x removed its name."""
    return version[0] < 10


def has_precision_flags(version: Version) -> bool:
    """BuilderFlag.FP16/INT8 exist up to 10.x; 11.x is strongly typed only (precision comes from the ONNX)."""
    return version[0] < 11


def has_implicit_calibrators(version: Version) -> bool:
    """IInt8EntropyCalibrator2/MinMax: 8.5 and 10.x (deprecated since 10.1); gone in 11.x."""
    return MIN_VERSION <= version and version[0] < 11


def strongly_typed_available(version: Version) -> bool:
    """NetworkDefinitionCreationFlag.STRONGLY_TYPED can be asked for on 10.x."""
    return version[0] >= 10


def always_strongly_typed(version: Version) -> bool:
    """On 11.x every network is strongly typed; there is nothing to ask for."""
    return version[0] >= 11


@dataclass(frozen=True)
class ShapeProfile:
    """One optimization profile for the model's single image input (min <= opt <= max, element-wise)."""

    min: Shape
    opt: Shape
    max: Shape

    @property
    def is_static(self) -> bool:
        return self.min == self.opt == self.max

    def to_dict(self) -> Dict[str, List[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def _parse_shape(text: str, option: str) -> Shape:
    parts = [p for p in re.split(r"[xX*]", text.strip()) if p != ""]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise EdgeUnetError(f"{option}: {text!r} is not a shape; write dimensions joined by x, e.g. 1x1x256x256") from None
    if not dims or any(d <= 0 for d in dims):
        raise EdgeUnetError(f"{option}: {text!r} needs positive dimensions, e.g. 1x1x256x256")
    return dims


def parse_shapes(text: str, option: str = "--shapes") -> ShapeProfile:
    """'1x1x256x256,4x1x256x256,8x1x256x256' -> ShapeProfile; one shape means min = opt = max (static)."""
    pieces = [p for p in str(text).split(",") if p.strip()]
    if len(pieces) == 1:
        pieces = pieces * 3
    if len(pieces) != 3:
        raise EdgeUnetError(f"{option}: expected min,opt,max (three shapes such as 1x1x256x256,4x1x256x256,8x1x256x256), got {text!r}")
    lo, opt, hi = (_parse_shape(p, option) for p in pieces)
    if not len(lo) == len(opt) == len(hi):
        raise EdgeUnetError(f"{option}: min, opt and max must have the same number of dimensions ({text!r})")
    if any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi)):
        raise EdgeUnetError(f"{option}: need min <= opt <= max in every dimension ({text!r})")
    return ShapeProfile(lo, opt, hi)


def resolve_profile(input_shape: Sequence[Optional[int]], requested: Optional[ShapeProfile], default: Sequence[int]) -> Optional[ShapeProfile]:
    """The profile to build with, checked against the ONNX input (None/<=0 dims are dynamic).

    A static ONNX needs no profile (None) and any --shapes must equal it; a dynamic one gets --shapes, or the
    model's own size with batch 1 (`default`), so a plain `build-engine model.onnx` always works.
    """
    dims = [d if d is not None and d > 0 else None for d in input_shape]
    if requested is not None:
        for which, shape in (("min", requested.min), ("opt", requested.opt), ("max", requested.max)):
            if len(shape) != len(dims):
                raise EdgeUnetError(
                    f"--shapes {which} {'x'.join(map(str, shape))} has {len(shape)} dimensions; the model input has {len(dims)}"
                )
            for axis, (want, have) in enumerate(zip(shape, dims)):
                if have is not None and want != have:
                    raise EdgeUnetError(
                        f"--shapes {which} {'x'.join(map(str, shape))}: dimension {axis} is fixed to {have} in the ONNX; "
                        "export with --dynamic to vary it"
                    )
        return requested
    if all(d is not None for d in dims):
        return None
    if len(default) != len(dims):
        raise EdgeUnetError(f"model input rank {len(dims)} does not match its description; re-export the model")
    fixed = tuple(int(d) if d is not None else int(default[i]) for i, d in enumerate(dims))
    return ShapeProfile(fixed, fixed, fixed)


@dataclass(frozen=True)
class BuildPlan:
    """Everything the builder steps do, decided up front from the TensorRT version and the options."""

    version: Version
    precision: str  # the engine's precision label: fp32 | fp16 | int8
    onnx_precision: str  # what the ONNX holds: fp32 | fp16 | int8 (Q/DQ)
    explicit_batch: bool = False
    strongly_typed: bool = False  # STRONGLY_TYPED creation flag requested (10.x); on 11.x implied
    fp16_flag: bool = False
    int8_flag: bool = False
    gpu_fallback: bool = False
    implicit_calibrator: Optional[str] = None  # entropy | minmax
    dla_core: Optional[int] = None
    workspace_bytes: Optional[int] = None
    profile: Optional[ShapeProfile] = None
    notes: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def builder_flags(self) -> List[str]:
        flags = []
        if self.fp16_flag:
            flags.append("FP16")
        if self.int8_flag:
            flags.append("INT8")
        if self.gpu_fallback:
            flags.append("GPU_FALLBACK")
        return flags

    @property
    def network_flags(self) -> List[str]:
        flags = []
        if self.explicit_batch:
            flags.append("EXPLICIT_BATCH")
        if self.strongly_typed and not always_strongly_typed(self.version):
            flags.append("STRONGLY_TYPED")
        return flags


def plan_build(
    version: Version,
    onnx_precision: str,
    fp16: bool = False,
    int8: bool = False,
    calibrator: str = "qdq",
    strongly_typed: bool = False,
    dla_core: Optional[int] = None,
    workspace_mib: Optional[int] = None,
    profile: Optional[ShapeProfile] = None,
    int8_fp16: bool = True,
) -> BuildPlan:
    """Decide flags, calibrator and device for this TensorRT version; a combination it cannot build is one clear error.

    `int8_fp16`: on a weakly typed network an INT8 engine also gets the FP16 flag, so the layers outside Q/DQ pairs
    (ConvTranspose kept float, --keep-float / --fallback layers, the head) run in FP16 rather than FP32, as
    `trtexec --int8 --fp16` does; otherwise an "int8" engine can be slower than the FP16 one (--int8-only turns it off).
    """
    check_supported(version)
    _check_arguments(onnx_precision, calibrator, workspace_mib, dla_core)
    int8 = int8 or onnx_precision == "int8"  # a Q/DQ graph is an INT8 engine whatever the flags say
    notes: List[str] = []
    typed = always_strongly_typed(version) or strongly_typed
    if strongly_typed and not strongly_typed_available(version):
        raise EdgeUnetError(f"--strongly-typed needs TensorRT 10 or newer (found {format_version(version)}); drop the option")
    implicit = _implicit_calibrator(version, onnx_precision, int8, calibrator, typed)
    fp16_flag, int8_flag = _precision_flags(version, onnx_precision, fp16, int8, typed, int8_fp16, notes)
    precision = "int8" if int8 else ("fp16" if (fp16 or onnx_precision == "fp16") else "fp32")
    gpu_fallback = _dla_fallback(version, precision, dla_core, profile, int8 and implicit is None, notes)
    return BuildPlan(
        version=version,
        precision=precision,
        onnx_precision=onnx_precision,
        explicit_batch=needs_explicit_batch_flag(version),
        strongly_typed=typed,
        fp16_flag=fp16_flag and has_precision_flags(version),
        int8_flag=int8_flag and has_precision_flags(version),
        gpu_fallback=gpu_fallback,
        implicit_calibrator=implicit,
        dla_core=dla_core,
        workspace_bytes=None if workspace_mib is None else int(workspace_mib) << 20,
        profile=profile,
        notes=tuple(notes),
    )


def _check_arguments(onnx_precision: str, calibrator: str, workspace_mib: Optional[int], dla_core: Optional[int]) -> None:
    if onnx_precision not in PRECISIONS:
        raise EdgeUnetError(f"unknown ONNX precision {onnx_precision!r} (known: {', '.join(PRECISIONS)}); re-export the model")
    if calibrator not in CALIBRATORS:
        raise EdgeUnetError(f"--calibrator {calibrator}: choose from {', '.join(CALIBRATORS)}")
    if workspace_mib is not None and workspace_mib <= 0:
        raise EdgeUnetError(f"--workspace {workspace_mib}: give a positive size in MiB, e.g. 1024")
    if dla_core is not None and dla_core < 0:
        raise EdgeUnetError(f"--dla-core {dla_core}: DLA cores are numbered from 0")


def _implicit_calibrator(version: Version, onnx_precision: str, int8: bool, calibrator: str, typed: bool) -> Optional[str]:
    """TensorRT's own calibrator (8.5-10.x, weakly typed, from an fp32 ONNX), or None for explicit Q/DQ."""
    vtext = format_version(version)
    if int8 and calibrator in IMPLICIT_CALIBRATORS:
        if not has_implicit_calibrators(version):
            raise EdgeUnetError(
                f"--calibrator {calibrator}: implicit INT8 calibrators are not in TensorRT 11 (found {vtext}); "
                "use --calibrator qdq (explicit Q/DQ, the default)"
            )
        if typed:
            raise EdgeUnetError(f"--calibrator {calibrator} cannot be used with a strongly typed network; use --calibrator qdq")
        if onnx_precision != "fp32":
            raise EdgeUnetError(
                f"--calibrator {calibrator} calibrates an fp32 ONNX inside TensorRT, but this ONNX is already {onnx_precision}; "
                "pass the fp32 ONNX, or use --calibrator qdq"
            )
        return calibrator
    if int8 and onnx_precision != "int8":
        raise EdgeUnetError("--int8 --calibrator qdq needs a Q/DQ ONNX; run `edgeunet calibrate` first (build-engine does it given --calib-data)")
    return None


def _precision_flags(version: Version, onnx_precision: str, fp16: bool, int8: bool, typed: bool, int8_fp16: bool,
                     notes: List[str]) -> Tuple[bool, bool]:
    """(FP16 flag, INT8 flag) before the version's own flag support is applied."""
    if typed:
        # Precision comes from the graph's own types: an fp16 engine needs an fp16-typed ONNX.
        if fp16 and not int8 and onnx_precision != "fp16":
            raise EdgeUnetError(f"a strongly typed FP16 engine (TensorRT {format_version(version)}) needs an fp16-typed ONNX; "
                                "run `edgeunet convert --fp16` first")
        if fp16 and int8:
            notes.append("strongly typed: layers outside Q/DQ pairs keep the ONNX's float type (--fp16 flag not applicable)")
        return False, False
    if int8 and int8_fp16 and not fp16 and has_precision_flags(version):
        notes.append("INT8 with FP16 beside it: layers outside Q/DQ pairs run in FP16 (--int8-only keeps them in FP32)")
    return fp16 or onnx_precision == "fp16" or (int8 and int8_fp16), int8


def _dla_fallback(version: Version, precision: str, dla_core: Optional[int], profile: Optional[ShapeProfile], explicit_int8: bool,
                  notes: List[str]) -> bool:
    """Whether GPU_FALLBACK is set: only for a DLA build, after the DLA's own limits are checked."""
    if dla_core is None:
        return False
    if precision == "fp32":
        raise EdgeUnetError("--dla-core: the DLA runs FP16 or INT8 only; add --fp16 or --int8")
    if profile is not None and not profile.is_static:
        raise EdgeUnetError("--dla-core: the DLA needs static shapes; give --shapes with min = opt = max")
    if explicit_int8 and version[0] < 10:
        raise EdgeUnetError(
            f"--dla-core with INT8 on TensorRT {format_version(version)} needs implicit calibration; add --calibrator entropy --calib-data DIR"
        )
    notes.append("DLA: layers the DLA cannot run fall back to the GPU (GPU_FALLBACK); the build log lists them")
    return True
