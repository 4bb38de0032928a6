"""The file each row runs: fp32 / fp16 / int8 ONNX variants (and TensorRT engines) derived from one fp32 model.

Variants are derived from one fp32 model and cached in CACHE/<sha256[:12] of the source>/ (export at
each size with a symbolic batch, fp16 via export.fp16.convert_fp16, int8 via `calibrate`'s one INT8 path,
export.int8.quantize_and_gate, with target "tensorrt" (symmetric Q/DQ, what an engine is built from), int8-cpu with
target "cpu" and int8-modelopt with ModelOpt's engine; bench picks minmax and no gate, and says so), so a
second run only measures. A variant that failed once fails again from memory, so one bad conversion
costs one attempt per run, not one per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from edgeunet.bench.config import GIVEN_QDQ_PRECISIONS, INT8_TARGETS, BenchConfig, Row
from edgeunet.core.atomic import sha256_bytes, sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import CHECKPOINT, ENGINE, ONNX, model_kind
from edgeunet.core.precisions import PRECISIONS_TABLE, Precision, get_precision
from edgeunet.runtime.registry import BACKENDS, BackendEntry, get_backend

if TYPE_CHECKING:
    from edgeunet.export.int8_options import Int8Options

# bench's INT8 settings: minmax (the fastest calibration) and no gate (bench scores every row itself, beside its speed).
# Everything else is `edgeunet calibrate`'s path: the same sampling, calibration-set check, metadata and manifest.
BENCH_INT8: Dict[str, Any] = {"method": "minmax", "gate": False, "progress": False}


def cache_dir_for(model: Path, cache: Optional[Path]) -> Path:
    """CACHE/<sha12>/; default CACHE is `bench-cache` next to the model (re-used across runs, safe to delete)."""
    base = cache if cache is not None else model.parent / "bench-cache"
    return base / sha256_file(model)[:12]


def fallback_layers_of(given: Path) -> List[str]:
    """The float layers an INT8 ONNX records (edgeunet.float_layers); a file without any is refused in one line."""
    from edgeunet.core.onnx_model import KEY_FLOAT_LAYERS, json_field, load_onnx, read_metadata

    layers = json_field(read_metadata(load_onnx(given)), KEY_FLOAT_LAYERS) or []
    if not layers:
        raise EdgeUnetError(f"--fallback {given}: records no float layers; pass an INT8 ONNX written by "
                            "`edgeunet calibrate --fallback auto` or `--keep-float NODE,...`")
    return [str(name) for name in layers]


def make_batch_dynamic(src: Path, out: Path) -> Path:
    """Copy of an ONNX whose first input/output dimension is symbolic, so one file serves every --batch.

    Export writes static shapes (fastest for TensorRT); the UNet graph has no batch-dependent Reshape,
    so only the declared I/O dimension and the recorded intermediate shapes need to change.
    """
    from edgeunet.core.onnx_model import load_onnx, save_onnx

    model = load_onnx(src)
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]
    return save_onnx(model, out)


class Variants:
    """fp32 / fp16 / int8 ONNX files (and the checkpoint) for one model and size, derived on demand and cached."""

    def __init__(self, model: Path, cfg: BenchConfig, log: Callable[[str], None]) -> None:
        self.model = model
        self.cfg = cfg
        self.log = log
        self.is_checkpoint = model_kind(model) == CHECKPOINT
        self.is_engine = model_kind(model) == ENGINE
        self.dir = cache_dir_for(model, cfg.cache)
        self._errors: Dict[str, str] = {}
        self._fallback_layers: Optional[List[str]] = None

    def native_size(self) -> List[int]:
        if self.is_checkpoint:
            from edgeunet.model.checkpoint import load_checkpoint, spec_of

            return list(spec_of(load_checkpoint(self.model), str(self.model)).input_size)
        if self.is_engine:
            from edgeunet.trt.sidecar import check_engine_file, spec_of_sidecar

            return list(spec_of_sidecar(check_engine_file(self.model), self.model).input_size)
        from edgeunet.core.onnx_model import read_spec

        return list(read_spec(self.model).input_size)

    def _memo(self, key: str, make: Callable[[], Path]) -> Path:
        if key in self._errors:
            raise EdgeUnetError(self._errors[key])
        try:
            return make()
        except EdgeUnetError as exc:
            self._errors[key] = str(exc)
            raise

    def fp32(self, size: List[int]) -> Path:
        out = self.dir / f"fp32-{size[0]}x{size[1]}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            static = self.dir / f".static-fp32-{size[0]}x{size[1]}.onnx"
            if self.is_checkpoint:
                from edgeunet.export.onnx_export import export_onnx

                self.log(f"bench: exporting {self.model} at {size[0]}x{size[1]} -> {out}")
                export_onnx(self.model, static, size=size, batch=1, parity_images=1)
                src = static
            else:
                from edgeunet.core.onnx_model import load_onnx, precision_of, read_metadata

                precision = precision_of(read_metadata(load_onnx(self.model)), str(self.model))
                if precision != "fp32":
                    raise EdgeUnetError(f"{self.model}: is {precision}; bench derives variants from an fp32 model (.pt or fp32 .onnx)")
                if list(self.native_size()) != list(size):
                    raise EdgeUnetError(
                        f"{self.model}: ONNX is fixed at {self.native_size()[0]}x{self.native_size()[1]}; "
                        "pass the .pt checkpoint to benchmark other sizes"
                    )
                src = self.model
            try:
                make_batch_dynamic(src, out)
            finally:
                if static.exists():
                    static.unlink()
            return out

        return self._memo(f"fp32-{size}", make)

    def derived(self, precision: Precision, size: List[int]) -> Path:
        """The fp32 variant converted by the precision's own converter (core.precisions `derive`; fp16: convert_fp16)."""
        out = self.dir / f"{precision.name}-{size[0]}x{size[1]}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            convert = precision.deriver()
            self.log(f"bench: {precision.name} conversion -> {out}")
            return convert(self.fp32(size), out)

        return self._memo(f"{precision.name}-{size}", make)

    def onnx_for(self, row: Row) -> Path:
        """The ONNX a row runs: fp32 itself, an INT8 graph, or a converted variant."""
        precision = get_precision(row.precision, "--precisions")
        if precision.is_int8:
            return self.row_onnx(row)
        if precision.name == "fp32":
            return self.fp32(row.size)
        return self.derived(precision, row.size)

    def calib_source(self) -> Path:
        if self.cfg.calib_data is not None:
            return self.cfg.calib_data
        if self.cfg.data is not None:
            return self.cfg.data
        if self.is_checkpoint:
            from edgeunet.model.checkpoint import load_checkpoint

            data = (load_checkpoint(self.model).get("config") or {}).get("data")
            if data and Path(data).is_dir():
                return Path(data)
        raise EdgeUnetError("int8 needs calibration images: pass --calib-data DIR (or --data DIR)")

    def int8(self, size: List[int], target: str = "tensorrt") -> Path:
        return self._calibrated(f"int8-{target}", size, target=target)

    def int8_modelopt(self, size: List[int]) -> Path:
        """NVIDIA ModelOpt's ONNX PTQ of the same fp32 variant, on the same images and calibration method as `int8`."""
        return self._calibrated("int8-modelopt", size, engine="modelopt")

    def int8_options(self, **settings: Any) -> Int8Options:
        """`calibrate`'s options with bench's settings (BENCH_INT8): the same path, its calibration-set check included."""
        from edgeunet.export.int8_options import Int8Options

        return Int8Options(num_images=self.cfg.calib_images, manifest_dir=self.dir / "calibration", **BENCH_INT8, **settings)

    def _calibrated(self, kind: str, size: List[int], **settings: Any) -> Path:
        """An INT8 variant through `export.int8.quantize_and_gate`, cached by its calibration images: on disk across runs,
        memoised within one."""
        data = Path(self.calib_source())
        tag = sha256_bytes(f"{data.resolve()}|{self.cfg.calib_images}".encode())[:8]
        out = self.dir / f"{kind}-{size[0]}x{size[1]}-{tag}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            from edgeunet.export.int8 import quantize_and_gate

            options = self.int8_options(**settings)
            self.log(f"bench: calibrating {kind} on {data} ({options.describe()}; bench's fast settings, "
                     f"`edgeunet calibrate` gates with entropy) -> {out}")
            quantize_and_gate(self.fp32(size), data, out, options, warn=self.log)
            return out

        return self._memo(f"{kind}-{size}-{tag}", make)

    def int8_qat(self, size: List[int]) -> Path:
        """--qat FILE (a `train --qat` INT8 ONNX) with a symbolic batch, when it was exported at this size."""
        return self._given_int8("int8-qat", self.cfg.qat, "--qat", "`edgeunet train --qat`", size)

    def int8_fallback(self, size: List[int]) -> Path:
        """--fallback FILE (an INT8 ONNX with layers left in float) with a symbolic batch, when it is at this size."""
        self.fallback_layers()  # a file without float layers is refused before anything is timed
        return self._given_int8("int8-fallback", self.cfg.fallback, "--fallback", "`edgeunet calibrate --fallback auto`", size)

    def fallback_layers(self) -> List[str]:
        """The layers the --fallback file leaves in float, as calibrate recorded them (read once per run, not per row)."""
        if self.cfg.fallback is None:
            raise EdgeUnetError("int8-fallback needs --fallback MODEL.int8.onnx (written by `edgeunet calibrate --fallback auto`)")
        if self._fallback_layers is None:
            self._fallback_layers = fallback_layers_of(self.cfg.fallback)
        return self._fallback_layers

    def _given_int8(self, kind: str, given: Optional[Path], option: str, maker: str, size: List[int]) -> Path:
        if given is None:
            raise EdgeUnetError(f"{kind} needs {option} FILE (an INT8 ONNX written by {maker})")
        out = self.dir / f"{kind}-{sha256_file(given)[:12]}-{size[0]}x{size[1]}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            from edgeunet.core.onnx_model import load_onnx, precision_of, read_metadata, read_spec

            precision = precision_of(read_metadata(load_onnx(given)), str(given))
            if precision != "int8":
                raise EdgeUnetError(f"{option} {given}: is {precision}; pass the INT8 ONNX that {maker} wrote")
            native = list(read_spec(given).input_size)
            if native != list(size):
                raise EdgeUnetError(f"{option} {given}: made at {native[0]}x{native[1]}, this row is {size[0]}x{size[1]}; "
                                    f"bench it at its own size (leave out --size)")
            return make_batch_dynamic(given, out)

        return self._memo(f"{kind}-{size}", make)

    def int8_with_float(self, size: List[int], layers: List[str]) -> Path:
        """bench's own `int8` graph with only `layers` left in float: what one float layer costs in time.

        Timing depends on the graph's structure, not on the scale values, so bench's calibration serves every
        fallback file of the same fp32 model; the layers are removed from quantization exactly as calibrate does.
        """
        from edgeunet.core.onnx_model import load_onnx, save_onnx
        from edgeunet.export.qdq_layers import keep_float, quantized_layers

        source = self.int8(size, "tensorrt")
        out = self.dir / f"{source.stem}-float-{sha256_bytes('|'.join(sorted(layers)).encode())[:10]}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            qmodel = load_onnx(source)
            missing = sorted(set(layers) - set(quantized_layers(qmodel)))
            if missing:
                raise EdgeUnetError(f"{', '.join(missing)}: not a quantized layer of bench's int8 graph of {self.model.name} "
                                    "(was --fallback calibrated from another model?)")
            return save_onnx(keep_float(qmodel, layers), out)

        return self._memo(f"int8-float-{size}-{'|'.join(sorted(layers))}", make)

    def quantized(self, precision: str, size: List[int]) -> Path:
        """The INT8 ONNX of an INT8 row precision (int8, int8-cpu, int8-modelopt, int8-qat)."""
        if precision == "int8-modelopt":
            return self.int8_modelopt(size)
        if precision == "int8-qat":
            return self.int8_qat(size)
        if precision == "int8-fallback":
            return self.int8_fallback(size)
        return self.int8(size, INT8_TARGETS[precision])

    def row_onnx(self, row: Row) -> Path:
        """The INT8 ONNX of `row`: its precision's graph, or bench's int8 graph with the row's float layers."""
        if row.precision == "int8" and row.float_layers is not None:  # [] too: the Q/DQ graph as it is, for TensorRT
            return self.int8_with_float(row.size, row.float_layers)
        return self.quantized(row.precision, row.size)


# bench's own fp32/fp16/int8 engines: build-engine's flags on the fp32 ONNX (it converts, calibrates and gates itself)
BUILD_FLAGS = {"fp32": (False, False), "fp16": (True, False), "int8": (True, True)}


def trt_engine(variants: Variants, row: Row, cfg: BenchConfig) -> Path:
    """An engine for this row: MODEL itself when it is one; else built (once) through `edgeunet build-engine`'s code."""
    precision = get_precision(row.precision, "--precisions")
    if precision.no_engine:
        raise EdgeUnetError(precision.no_engine)
    if variants.is_engine:
        return variants.model
    from edgeunet.trt.runner import runtime_info

    runtime_info()  # TensorRT/pycuda missing: MissingDependencyError with the install step -> the row's reason
    from edgeunet.export.build_engine import BuildOptions, build_engine_command

    if row.precision in GIVEN_QDQ_PRECISIONS or row.float_layers is not None:  # already Q/DQ: TensorRT builds it as it is
        quantized = variants.row_onnx(row)
        out = variants.dir / f"{quantized.stem}-b{row.batch}.engine"  # named by its source: another --qat file, another engine
        if out.exists():
            return out
        timing_only = row.precision == "int8"  # a float-layer cost row: bench's own graph, timed, not gated
        return build_engine_command(BuildOptions(
            onnx=quantized, fp16=True, int8=True, val_data=None if timing_only else cfg.data, out=out,
            shapes=batch_profile(quantized, row.batch), max_drop=cfg.max_drop,
        ), echo=variants.log)
    flags = BUILD_FLAGS.get(row.precision)
    if flags is None:  # a precision with its own converter: TensorRT builds its ONNX as the converter typed it
        converted = variants.onnx_for(row)
        out = variants.dir / f"{converted.stem}-b{row.batch}.engine"
        if out.exists():
            return out
        return build_engine_command(BuildOptions(onnx=converted, val_data=cfg.data, out=out, shapes=batch_profile(converted, row.batch),
                                                 max_drop=cfg.max_drop), echo=variants.log)
    out = variants.dir / f"{row.precision}-{row.size[0]}x{row.size[1]}-b{row.batch}.engine"
    if out.exists():
        return out
    onnx = variants.fp32(row.size)
    return build_engine_command(BuildOptions(
        onnx=onnx, fp16=flags[0], int8=flags[1],
        calib_data=variants.calib_source() if flags[1] else None, val_data=cfg.data, out=out,
        shapes=batch_profile(onnx, row.batch), max_drop=cfg.max_drop,
    ), echo=variants.log)


def batch_profile(onnx: Path, batch: int) -> Optional[str]:
    """--shapes for a row's batch: the bench ONNX has a symbolic batch, and the default profile is batch 1 only."""
    if batch == 1:
        return None
    from edgeunet.core.onnx_model import input_info, load_onnx

    _, shape, _ = input_info(load_onnx(onnx))
    rest = "x".join(str(int(d)) for d in shape[1:])
    return f"1x{rest},{batch}x{rest},{batch}x{rest}"


def checkpoint_file(variants: Variants, row: Row, cfg: BenchConfig, backend: BackendEntry) -> Path:
    if not variants.is_checkpoint:
        raise EdgeUnetError(f"the {backend.name} backend needs the .pt checkpoint ({variants.model.name} is not one)")
    precision = get_precision(row.precision, "--precisions")
    if not precision.checkpoint:  # every INT8 row has the same reason (one footnote in the table)
        runs = "/".join(p.name for p in PRECISIONS_TABLE if p.checkpoint)
        others = " or ".join(b.name for b in BACKENDS if b.opens != CHECKPOINT)
        raise EdgeUnetError(f"{backend.name} runs {runs} here; {'INT8' if precision.is_int8 else row.precision} runs through {others}")
    return variants.model


def engine_file(variants: Variants, row: Row, cfg: BenchConfig, backend: BackendEntry) -> Path:
    return trt_engine(variants, row, cfg)


def onnx_file(variants: Variants, row: Row, cfg: BenchConfig, backend: BackendEntry) -> Path:
    if variants.is_engine:
        raise EdgeUnetError(f"{variants.model.name} is a TensorRT engine; {backend.name} needs the .onnx")
    return variants.onnx_for(row)


# How bench makes the file a backend opens, by the file kind the backend registers (runtime.registry), never by its name:
# a backend of a kind bench cannot make is one line, not a TensorRT build.
FILE_MAKERS: Dict[str, Callable[[Variants, Row, BenchConfig, BackendEntry], Path]] = {
    CHECKPOINT: checkpoint_file,
    ONNX: onnx_file,
    ENGINE: engine_file,
}


def model_file(variants: Variants, row: Row, cfg: BenchConfig) -> Path:
    """The file `row` runs, made (and cached) for its backend's file kind and its precision."""
    backend = get_backend(row.backend, "--backends")
    maker = FILE_MAKERS.get(backend.opens)
    if maker is None:
        raise EdgeUnetError(f"bench cannot make a {backend.opens} file for the {backend.name} backend; pass one as MODEL")
    return maker(variants, row, cfg, backend)
