"""`edgeunet build-engine`: ONNX -> (calibrate, fp16, accuracy gate on CPU) -> TensorRT engine + sidecar JSON.

Why the steps are split this way: everything that decides accuracy happens on the CPU with ONNX Runtime
*before* TensorRT is touched (precision lives in the ONNX), so on a machine without TensorRT the command still
does all of that and then stops with one line saying where the validated ONNX is and what to run on the target.

Every engine gets a sidecar `<engine>.json` (TensorRT version, GPU and compute capability, precision, shapes,
ONNX sha256, calibration manifest hash, gate result, build time, the engine's own sha256 and the exact command),
written and read by one module, `edgeunet.trt.sidecar`; this command supplies what it knows (`EngineSource`).
An engine only runs with the TensorRT version and GPU that built it, so loading checks the sidecar first and
refuses a mismatch with the rebuild command; a truncated or replaced engine is caught by its sha256 before
TensorRT ever sees it. No torch and no tensorrt import here: TensorRT is reached through `edgeunet.trt`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from edgeunet.core.atomic import atomic_write_bytes, ensure_writable_dir, sha256_file
from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.model_files import ENGINE_SUFFIXES
from edgeunet.core.onnx_model import (
    KEY_CALIBRATION,
    KEY_FLOAT_LAYERS,
    KEY_GATE,
    KEY_TARGET,
    input_info,
    json_field,
    load_onnx,
    precision_of,
    read_metadata,
    read_model,
)
from edgeunet.core.spec import ModelSpec
from edgeunet.evaluate.class_gate import class_drop_limit
from edgeunet.evaluate.gate import check_max_drop
from edgeunet.export.trt_compat import require_compatible
from edgeunet.trt import INSTALL_HINT, tensorrt_version
from edgeunet.trt.plan import (
    CALIBRATORS,
    IMPLICIT_CALIBRATORS,
    BuildPlan,
    ShapeProfile,
    always_strongly_typed,
    parse_shapes,
    parse_version,
    plan_build,
    resolve_profile,
)
from edgeunet.trt.sidecar import EngineSource, sidecar_path, write_engine_sidecar

if TYPE_CHECKING:
    from edgeunet.trt.calibration import CalibrationSet

_PRECISION_TAGS = (".fp32", ".fp16", ".int8")
# A version that has every route (flags, calibrators, strong typing), for checking options on a machine without TensorRT.
_GENERIC_VERSION = (10, 3, 0)


def default_engine_path(onnx: Path, precision: str) -> Path:
    """runs/x/best.onnx, best.int8.onnx, best.fp16.onnx -> runs/x/best.<precision>.engine."""
    stem = onnx.stem
    for tag in _PRECISION_TAGS:
        if stem.endswith(tag):
            stem = stem[: -len(tag)]
    return onnx.with_name(f"{stem}.{precision}.engine")


def default_shape(spec: ModelSpec) -> Tuple[int, ...]:
    """Batch-1 input shape from the model description (NCHW float, NHWC uint8, 1xHxWx3 frame for end-to-end)."""
    if spec.end_to_end:
        return (1, spec.frame_size[0], spec.frame_size[1], 3)
    height, width = spec.input_size
    return (1, height, width, spec.in_channels) if spec.io == "uint8" else (1, spec.in_channels, height, width)


@dataclass
class BuildOptions:
    """The build-engine command line, as data (so the rebuild hint can be written back as a command)."""

    onnx: Path
    fp16: bool = False
    int8: bool = False
    calib_data: Optional[Path] = None
    calibrator: str = "qdq"
    val_data: Optional[Path] = None
    max_drop: float = 0.01
    max_class_drop: Optional[float] = None
    no_gate: bool = False
    out: Optional[Path] = None
    workspace: Optional[int] = None
    shapes: Optional[str] = None
    dla_core: Optional[int] = None
    timing_cache: Optional[Path] = None
    strongly_typed: bool = False
    num_images: int = 64
    seed: int = 0
    verbose: bool = False
    fallback: str = "off"  # auto: calibrate's float fallback when the gate fails (qdq calibration only)
    keep_float: Tuple[str, ...] = ()  # layers left in float by hand (qdq calibration only)
    int8_only: bool = False  # no FP16 flag beside INT8: layers outside Q/DQ pairs stay FP32 (TensorRT <= 10)


def command_line(onnx: Path, out: Path, opts: BuildOptions, precision: str, calibrated: bool) -> str:
    """The `edgeunet build-engine ...` that rebuilds this engine from `onnx` (calibration/gate already done if `calibrated`)."""
    args: List[str] = ["edgeunet", "build-engine", str(onnx)]
    if precision == "fp16" or (opts.fp16 and precision == "int8"):
        args.append("--fp16")
    if precision == "int8":
        args.append("--int8")
        if opts.calibrator in IMPLICIT_CALIBRATORS:
            args += ["--calibrator", opts.calibrator]
        if not calibrated and opts.calib_data is not None:
            args += ["--calib-data", str(opts.calib_data)]
        if opts.int8_only:
            args.append("--int8-only")
    args += ["--out", str(out)]
    if opts.workspace is not None:
        args += ["--workspace", str(opts.workspace)]
    if opts.shapes:
        args += ["--shapes", opts.shapes]
    if opts.dla_core is not None:
        args += ["--dla-core", str(opts.dla_core)]
    if opts.strongly_typed:
        args.append("--strongly-typed")
    if opts.timing_cache is not None:
        args += ["--timing-cache", str(opts.timing_cache)]
    return " ".join(shlex.quote(a) for a in args)


# -- option checks (no TensorRT, nothing written) -----------------------------------------------
@dataclass
class _Checked:
    spec: ModelSpec
    metadata: Dict[str, str]
    onnx_precision: str
    input_name: str
    input_shape: List[Optional[int]]
    profile: Optional[ShapeProfile]
    out: Path
    precision: str


def _check_onnx(opts: BuildOptions) -> Path:
    """The ONNX exists and is an ONNX (not the engine)."""
    onnx = Path(opts.onnx)
    if not onnx.exists():
        raise EdgeUnetError(f"{onnx}: no such ONNX file")
    if onnx.suffix.lower() in ENGINE_SUFFIXES:
        raise EdgeUnetError(f"{onnx}: is already an engine; build-engine takes the .onnx it was built from")
    if onnx.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"{onnx}: not an ONNX file (expected .onnx); create one with `edgeunet export CHECKPOINT`")
    return onnx


def _check_int8(opts: BuildOptions, onnx: Path, metadata: Dict[str, str], onnx_precision: str) -> bool:
    """INT8 options (and the data folders) against what the ONNX already is; returns whether the engine is INT8."""
    if opts.calibrator not in CALIBRATORS:
        raise EdgeUnetError(f"--calibrator {opts.calibrator}: choose from {', '.join(CALIBRATORS)}")
    if not opts.int8 and opts.calib_data is not None:
        raise EdgeUnetError("--calib-data is only used with --int8; add --int8 or drop it")
    if not opts.int8 and opts.calibrator != "qdq":
        raise EdgeUnetError(f"--calibrator {opts.calibrator} is only used with --int8; add --int8 or drop it")
    if opts.calib_data is not None and not Path(opts.calib_data).is_dir():
        raise EdgeUnetError(f"--calib-data {opts.calib_data}: no such folder; pass a folder of images")
    if opts.val_data is not None and not Path(opts.val_data).is_dir():
        raise EdgeUnetError(f"--val-data {opts.val_data}: no such folder; pass a folder with images/ and masks/")
    if onnx_precision == "int8":
        if metadata.get(KEY_TARGET) == "cpu":
            raise EdgeUnetError(
                f"{onnx}: an INT8 graph made for the CPU (asymmetric, TensorRT rejects it); "
                "recalibrate with `edgeunet calibrate --target tensorrt` or pass the fp32 ONNX with --int8 --calib-data DIR"
            )
        if opts.calib_data is not None:
            raise EdgeUnetError(f"{onnx}: is already INT8 (Q/DQ); drop --calib-data, or pass the fp32 ONNX to recalibrate")
        if opts.calibrator != "qdq":
            raise EdgeUnetError(f"--calibrator {opts.calibrator} calibrates an fp32 ONNX; {onnx} is already INT8 (Q/DQ)")
    if onnx_precision == "fp16" and opts.int8:
        raise EdgeUnetError(f"{onnx}: is an fp16 ONNX; INT8 calibration starts from the fp32 ONNX")
    int8 = opts.int8 or onnx_precision == "int8"
    if int8 and onnx_precision == "fp32" and opts.calib_data is None:
        raise EdgeUnetError("--int8 from an fp32 ONNX needs calibration images: add --calib-data DIR (64-500 typical images)")
    if (opts.fallback != "off" or opts.keep_float) and not (opts.int8 and onnx_precision == "fp32" and opts.calibrator == "qdq"):
        flag = "--fallback auto" if opts.fallback != "off" else "--keep-float"
        raise EdgeUnetError(f"{flag} chooses float layers while build-engine calibrates: use it with --int8 --calib-data DIR "
                            "on the fp32 ONNX (the qdq calibrator); an INT8 ONNX already carries its choice")
    return int8


def _check_out(opts: BuildOptions, onnx: Path, precision: str) -> Path:
    """The engine file and the timing cache can be written."""
    out = Path(opts.out) if opts.out is not None else default_engine_path(onnx, precision)
    if out.suffix.lower() not in ENGINE_SUFFIXES:
        raise EdgeUnetError(f"--out {out}: an engine name must end in .engine or .plan (e.g. {default_engine_path(onnx, precision).name})")
    if out.exists() and out.is_dir():
        raise EdgeUnetError(f"--out {out}: is a folder; pass a file name ending in .engine")
    ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    if opts.timing_cache is not None:
        cache = Path(opts.timing_cache)
        if cache.exists() and not cache.is_file():
            raise EdgeUnetError(f"--timing-cache {cache}: is not a file; pass a file name (created if missing)")
        ensure_writable_dir(cache.parent if str(cache.parent) else Path("."), "timing cache folder")
    return out


def check_options(opts: BuildOptions) -> _Checked:
    """Every user mistake that can be found before minutes of calibration, as one line."""
    onnx = _check_onnx(opts)
    model, metadata, spec = read_model(onnx)
    onnx_precision = precision_of(metadata, str(onnx))
    name, shape, _ = input_info(model)
    check_max_drop(opts.max_drop)
    class_drop_limit(opts.max_drop, opts.max_class_drop)
    int8 = _check_int8(opts, onnx, metadata, onnx_precision)
    require_compatible(onnx, model, tensorrt_version())  # the installed parser's rules (10.3 as a warning without TensorRT)
    precision = "int8" if int8 else ("fp16" if (opts.fp16 or onnx_precision == "fp16") else "fp32")
    requested = parse_shapes(opts.shapes) if opts.shapes else None
    profile = resolve_profile(shape, requested, default_shape(spec))
    out = _check_out(opts, onnx, precision)
    # Version-independent combinations (DLA without FP16/INT8, dynamic shapes on DLA, ...), checked as if on 10.x;
    # the running version's own rules are applied again in `build`.
    generic_precision = "int8" if (onnx_precision == "int8" or (int8 and opts.calibrator == "qdq")) else onnx_precision
    plan_build(_GENERIC_VERSION, generic_precision, fp16=opts.fp16 or onnx_precision == "fp16", int8=int8,
               calibrator=opts.calibrator, strongly_typed=False, dla_core=opts.dla_core, workspace_mib=opts.workspace,
               profile=profile)
    return _Checked(spec, metadata, onnx_precision, name, list(shape), profile, out, precision)


# -- the command ---------------------------------------------------------------------------------
Echo = Callable[[str], None]


@dataclass
class _Source:
    """The ONNX TensorRT will build after the CPU steps (calibration, fp16 conversion) and what they recorded."""

    onnx: Path
    precision: str
    calibration: Dict[str, Any]
    gate: Optional[Dict[str, Any]]
    calibrated: bool  # the Q/DQ ONNX exists: the rebuild command needs no --calib-data


def build_engine_command(opts: BuildOptions, echo: Echo = print) -> Path:
    """Run build-engine; returns the engine path. Without TensorRT: MissingDependencyError after the CPU steps."""
    checked = check_options(opts)
    trt_text = tensorrt_version()
    version = parse_version(trt_text) if trt_text is not None else None
    if version is not None:
        # The running version's rules before any calibration (e.g. an implicit calibrator on TensorRT 11), checked
        # against the ONNX that will actually be built: the Q/DQ one after calibration, the fp16 one after conversion.
        plan_build(version, _precision_to_build(checked, opts, version), fp16=opts.fp16 or checked.onnx_precision == "fp16",
                   int8=checked.precision == "int8", calibrator=opts.calibrator, strongly_typed=opts.strongly_typed,
                   dla_core=opts.dla_core, workspace_mib=opts.workspace, profile=checked.profile)
    source = _cpu_steps(opts, checked, version, echo)
    if version is None:
        hint = command_line(source.onnx, checked.out, opts, checked.precision, source.calibrated)
        what = "the validated ONNX" if source.onnx != Path(opts.onnx) or source.gate is not None else "the ONNX"
        raise MissingDependencyError(f"TensorRT not found, stopping before the engine; {what} is at {source.onnx}; run `{hint}` on the target ({INSTALL_HINT})")
    return _build(opts, checked, source, version, trt_text or "", echo)


def _cpu_steps(opts: BuildOptions, checked: _Checked, version: Optional[Tuple[int, int, int]], echo: Echo) -> _Source:
    """Everything that decides accuracy, on the CPU before TensorRT: INT8 calibration + gate, or fp16 conversion + gate."""
    onnx = Path(opts.onnx)
    source = _Source(onnx, checked.onnx_precision, json_field(checked.metadata, KEY_CALIBRATION) or {},
                     json_field(checked.metadata, KEY_GATE), checked.onnx_precision == "int8")
    if checked.precision == "int8" and checked.onnx_precision == "fp32" and opts.calibrator == "qdq":
        return _calibrate(opts, onnx, echo)
    if checked.precision == "fp16" and checked.onnx_precision == "fp32":
        return _convert_fp16(opts, source, version, echo)
    if checked.precision == "int8" and opts.calibrator in IMPLICIT_CALIBRATORS:
        echo(f"note: --calibrator {opts.calibrator} calibrates inside TensorRT; check the engine afterwards with "
             f"`edgeunet evaluate ENGINE --data VAL` (the CPU gate covers Q/DQ and fp16 ONNX only)")
    return source


def _calibrate(opts: BuildOptions, onnx: Path, echo: Echo) -> _Source:
    """`edgeunet calibrate`'s path (export.int8.quantize_and_gate) with build-engine's options."""
    from edgeunet.export.int8 import Int8Options, quantize_and_gate
    from edgeunet.export.quantize import default_output

    assert opts.calib_data is not None  # check_options guarantees it
    echo(f"calibrating {onnx.name} on {opts.calib_data} (explicit Q/DQ, TensorRT target) ...")
    options = Int8Options(num_images=opts.num_images, seed=opts.seed, target="tensorrt", gate=not opts.no_gate, val_data=opts.val_data,
                          max_drop=opts.max_drop, max_class_drop=opts.max_class_drop, fallback=opts.fallback, keep_float=opts.keep_float)
    calib, gate_result = quantize_and_gate(onnx, opts.calib_data, default_output(onnx, "int8"), options, warn=echo)
    echo(f"wrote {calib.onnx_path} ({calib.quantized_nodes} quantized tensors, {calib.num_images} images; manifest {calib.manifest_path})")
    if gate_result is not None:
        echo(gate_result.line())
    calibration = {"manifest": str(calib.manifest_path), "manifest_sha256": calib.manifest_sha256, "method": calib.method,
                   "num_images": calib.num_images, "seed": calib.seed, "float_layers": calib.float_layers}
    return _Source(calib.onnx_path, "int8", calibration, gate_result.to_dict() if gate_result is not None else None, True)


def _convert_fp16(opts: BuildOptions, source: _Source, version: Optional[Tuple[int, int, int]], echo: Echo) -> _Source:
    from edgeunet.export.fp16 import convert_and_gate
    from edgeunet.export.quantize import default_output

    fp16_onnx, gate_result = convert_and_gate(source.onnx, default_output(source.onnx, "fp16"), val_data=opts.val_data,
                                              max_drop=opts.max_drop, gate=not opts.no_gate, max_class_drop=opts.max_class_drop)
    echo(f"wrote {fp16_onnx}")
    if gate_result is not None:
        echo(gate_result.line())
        source.gate = gate_result.to_dict()
    # TensorRT 11 (and any strongly typed build) takes precision from the graph: build from the fp16 ONNX.
    # TensorRT <= 10: the FP16 builder flag on the fp32 ONNX; the fp16 ONNX gate checked the weight rounding.
    if version is None or always_strongly_typed(version) or opts.strongly_typed:
        source.onnx, source.precision = fp16_onnx, "fp16"
    return source


def _precision_to_build(checked: _Checked, opts: BuildOptions, version: Tuple[int, int, int]) -> str:
    """The precision of the ONNX that `_build` will hand TensorRT (calibration and fp16 conversion happen first)."""
    if checked.precision == "int8" and opts.calibrator == "qdq":
        return "int8"
    if checked.precision == "fp16" and checked.onnx_precision == "fp32" and (always_strongly_typed(version) or opts.strongly_typed):
        return "fp16"
    return checked.onnx_precision


def _implicit_calibration(opts: BuildOptions, checked: _Checked, plan: BuildPlan, source: _Source, onnx_sha: str,
                          tensorrt_version: str) -> Optional[CalibrationSet]:
    """TensorRT's own calibrator's image set (8.5-10.x); its manifest replaces the source's calibration record."""
    if plan.implicit_calibrator is None:
        return None
    from edgeunet.trt.calibration import make_calibration_set

    assert opts.calib_data is not None
    fixed_batch = checked.input_shape[0]
    calib_set = make_calibration_set(opts.calib_data, checked.spec, onnx_sha, source.onnx.stem, plan.implicit_calibrator,
                                     opts.num_images, opts.seed, batch_size=fixed_batch if isinstance(fixed_batch, int) else 1,
                                     tensorrt_version=tensorrt_version)
    # The manifest is written with the cache, after calibration (never before: an old cache would look current).
    source.calibration = {"manifest": str(calib_set.manifest_path), "manifest_sha256": calib_set.manifest_sha256(),
                          "method": plan.implicit_calibrator, "num_images": len(calib_set.images), "seed": opts.seed,
                          "batch_size": calib_set.batch_size, "cache": str(calib_set.cache_path)}
    return calib_set


def _build(opts: BuildOptions, checked: _Checked, source: _Source, version: Tuple[int, int, int], trt_text: str, echo: Echo) -> Path:
    """The TensorRT part (runs only where TensorRT and pycuda are installed)."""
    from edgeunet.trt import build as trt_build
    from edgeunet.trt.runner import runtime_info

    plan = plan_build(version, source.precision, fp16=opts.fp16, int8=checked.precision == "int8", calibrator=opts.calibrator,
                      strongly_typed=opts.strongly_typed, dla_core=opts.dla_core, workspace_mib=opts.workspace, profile=checked.profile,
                      int8_fp16=not opts.int8_only)
    trt_text_here, gpu_name, capability = runtime_info()
    onnx_sha = sha256_file(source.onnx)
    calib_set = _implicit_calibration(opts, checked, plan, source, onnx_sha, trt_text_here)
    timing = Path(opts.timing_cache).read_bytes() if opts.timing_cache is not None and Path(opts.timing_cache).is_file() else None
    for note in plan.notes:
        echo(f"note: {note}")
    echo(f"building {checked.precision} engine with TensorRT {trt_text} on {gpu_name} (flags: {', '.join(plan.builder_flags) or 'none'}"
         f"{', strongly typed' if plan.strongly_typed else ''}) ...")
    built, plan = trt_build.build_engine(source.onnx, plan, default_shape(checked.spec), checked.profile, calib_set, timing, opts.verbose)
    for note in built.notes:
        echo(f"note: {note}")
    out = checked.out
    atomic_write_bytes(out, built.plan_bytes)
    if opts.timing_cache is not None:
        if built.timing_cache:
            atomic_write_bytes(opts.timing_cache, built.timing_cache)
        else:
            echo(f"note: TensorRT returned no timing cache; {opts.timing_cache} was left as it was")
    float_layers = (json_field(read_metadata(load_onnx(source.onnx)), KEY_FLOAT_LAYERS) or []) if source.precision == "int8" else []
    record = EngineSource(precision=checked.precision, onnx=source.onnx, onnx_sha256=onnx_sha, onnx_precision=source.precision,
                          spec=checked.spec, build_command=command_line(source.onnx, out, opts, checked.precision, source.calibrated),
                          calibration=source.calibration, gate=source.gate, float_layers=float_layers)
    write_engine_sidecar(out, record, built, plan, trt_text, gpu_name, capability)
    echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {built.seconds:.0f} s) and {sidecar_path(out).name}")
    return out
