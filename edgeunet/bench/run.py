"""`edgeunet bench`: speed and accuracy of every backend x precision x batch, measured the same way.

Why one harness: users pick a precision from one table, so every row must be timed by the same loop
on the same input, and scored by the same metrics module (edgeunet.evaluate.evaluate -> edgeunet.core.metrics).

Timing method (printed next to the table, written into the Markdown report, like trtexec's summary):
  * model-only latency = one `Backend.run(batch)` call: host tensor in, host numpy out. Included: the
    framework call, the graph, and for GPU backends the copies to and from the device (torch CUDA syncs
    by `.cpu()`; TensorRT does H2D -> execute -> D2H -> synchronize). Not included: reading/decoding the
    image, `preprocess` (resize, normalise) and `postprocess` (threshold/argmax, resize back).
  * `warmup` untimed runs first (lazy init, allocator, cuDNN/ORT kernel choice), then `iterations`
    timed runs (or as many as fit in `duration` seconds), each timed with time.perf_counter().
  * reported: mean, p50, p95, p99 (linear interpolation), FPS = batch * 1000 / mean latency (ms);
    speed-up = FPS / FPS of fp32 on the same backend, batch and size.
  * end-to-end pipeline FPS (with --video): frames through read -> preprocess -> infer -> postprocess
    -> overlay, measured by the stream code (edgeunet.stream.pipeline) when it is installed.
  * peak memory: the largest resident set size (psutil) of this process, sampled every 20 ms while
    the row loads, warms up and runs (it includes the Python interpreter and earlier rows' libraries).

Variants are derived from one fp32 model and cached in CACHE/<sha256[:12] of the source>/ (export at
each size with a symbolic batch, fp16 via quantize.convert_fp16, int8 via quantize.calibrate with
target "tensorrt" (symmetric Q/DQ, what an engine is built from) and int8-cpu with target "cpu"), so a
second run only measures.

JSON schema ("edgeunet-bench/1"): see README "Benchmarks" and `SCHEMA` below.

No torch at module level: only the torch backend and export import it, lazily.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.atomic import atomic_path, atomic_write_text
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import CHECKPOINT, ENGINE, ONNX, model_kind
from edgeunet.core.onnx_model import PRECISIONS
from edgeunet.core.version import __version__

SCHEMA = "edgeunet-bench/1"
# int8: the TensorRT-valid symmetric Q/DQ graph (what build-engine uses); int8-cpu: the graph ONNX Runtime runs fastest
# on a CPU (calibrate --target cpu). Both are shown so users see what each target costs and gains.
BENCH_PRECISIONS = (*PRECISIONS, "int8-cpu")  # int8-cpu: the ONNX Runtime CPU graph (calibrate --target cpu)
INT8_TARGETS = {"int8": "tensorrt", "int8-cpu": "cpu"}
BACKENDS = ("torch", "onnxruntime", "tensorrt")
SHORT = {"torch": "torch", "onnxruntime": "ORT", "tensorrt": "TRT"}

TIMING_METHOD = (
    "Timing: model-only latency is one Backend.run(batch) call (host tensor in, host array out; for GPU backends the "
    "H2D/D2H copies and the final synchronize are included). Not included: image decode, preprocess, postprocess. "
    "{warmup} untimed warm-up runs, then {count}; each run timed with time.perf_counter(). "
    "Reported: mean, p50, p95, p99 (linear interpolation); FPS = batch x 1000 / mean ms; x fp32 = FPS over fp32 on the same "
    "backend, batch and size. Pipeline FPS (--video): read -> preprocess -> infer -> postprocess -> overlay, via edgeunet.stream.pipeline. "
    "Peak RSS: this process's largest resident set (psutil, 20 ms samples) while the row ran. Dice/mIoU: edgeunet.evaluate.evaluate on --data."
)


# -- configuration and rows -------------------------------------------------------------------
@dataclass
class BenchConfig:
    models: List[Path]
    precisions: List[str] = field(default_factory=lambda: list(BENCH_PRECISIONS))
    backends: List[str] = field(default_factory=lambda: ["auto"])
    data: Optional[Path] = None
    calib_data: Optional[Path] = None
    video: Optional[Path] = None
    batches: List[int] = field(default_factory=lambda: [1])
    sizes: List[int] = field(default_factory=list)  # empty: the model's own input size
    warmup: int = 10
    iterations: Optional[int] = 100
    duration: Optional[float] = None
    threads: Optional[int] = None
    ort_opt_level: str = "all"
    val_split: bool = False  # score on each model's own validation split (from its checkpoint/ONNX), not all of --data
    device: str = "auto"
    cache: Optional[Path] = None
    calib_images: int = 32
    video_frames: int = 100
    eval_images: Optional[int] = None  # None: every labelled image in --data


@dataclass
class Row:
    """One backend x precision x batch x size measurement (or the reason it could not run)."""

    model: str
    backend: str
    precision: str
    batch: int
    size: List[int]
    status: str = "ok"  # ok | unavailable
    reason: Optional[str] = None
    device: Optional[str] = None
    file: Optional[str] = None
    file_mb: Optional[float] = None
    dice: Optional[float] = None
    miou: Optional[float] = None
    latency_ms: Optional[Dict[str, float]] = None  # mean, p50, p95, p99, min, max, std
    runs: int = 0
    fps: Optional[float] = None
    speedup_vs_fp32: Optional[float] = None
    pipeline_fps: Optional[float] = None
    pipeline_note: Optional[str] = None
    peak_rss_mb: Optional[float] = None
    trt_phases_ms: Optional[Dict[str, float]] = None  # h2d, compute, d2h (TensorRT rows, when the runner reports them)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def label(self) -> str:
        return f"{SHORT.get(self.backend, self.backend)}-{self.precision} b{self.batch} {self.size[0]}x{self.size[1]}"


def unavailable(row: Row, reason: str) -> Row:
    row.status = "unavailable"
    row.reason = " ".join(str(reason).split())
    row.file_mb = row.latency_ms = row.fps = row.dice = row.miou = None
    return row


# -- parsing helpers (the CLI passes strings) -------------------------------------------------
def parse_list(text: str, allowed: Sequence[str], option: str) -> List[str]:
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if not items or bad:
        raise EdgeUnetError(f"{option} {text}: choose from {', '.join(allowed)} (comma-separated)")
    return list(dict.fromkeys(items))


def parse_ints(text: str, option: str, minimum: int = 1) -> List[int]:
    try:
        values = [int(t) for t in text.replace("x", ",").split(",") if t.strip()]
    except ValueError:
        raise EdgeUnetError(f"{option} {text}: expected comma-separated integers, e.g. 1,4") from None
    if not values or min(values) < minimum:
        raise EdgeUnetError(f"{option} {text}: every value must be at least {minimum}")
    return list(dict.fromkeys(values))


# -- statistics -------------------------------------------------------------------------------
def summarize(latencies_ms: Sequence[float]) -> Dict[str, float]:
    """mean/p50/p95/p99/min/max/std of per-run latencies (ms), by edgeunet.stream.stats: the same code as `stream`'s table."""
    from edgeunet.stream.stats import summarize as stats_summarize

    return stats_summarize(latencies_ms)


class RssSampler:
    """Peak resident set size of this process while a block runs (psutil, sampled in a thread)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process(os.getpid())
        while True:
            self.peak = max(self.peak, int(proc.memory_info().rss))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def time_backend(
    run: Callable[[np.ndarray], Any], batch: np.ndarray, warmup: int, iterations: Optional[int], duration: Optional[float]
) -> List[float]:
    """Per-run latencies in ms after `warmup` untimed runs; `iterations` runs, or as many as fit in `duration` s."""
    for _ in range(warmup):
        run(batch)
    latencies: List[float] = []
    clock = time.perf_counter
    if duration is not None:
        end = clock() + duration
        while clock() < end or not latencies:
            t0 = clock()
            run(batch)
            latencies.append((clock() - t0) * 1000.0)
        return latencies
    for _ in range(iterations or 1):
        t0 = clock()
        run(batch)
        latencies.append((clock() - t0) * 1000.0)
    return latencies


# -- variants (cached) ------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    from edgeunet.core.atomic import sha256_file

    return sha256_file(path)


def cache_dir_for(model: Path, cache: Optional[Path]) -> Path:
    """CACHE/<sha12>/; default CACHE is `bench-cache` next to the model (re-used across runs, safe to delete)."""
    base = cache if cache is not None else model.parent / "bench-cache"
    return base / _sha256(model)[:12]


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

                precision = precision_of(read_metadata(load_onnx(self.model)))
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

    def fp16(self, size: List[int]) -> Path:
        out = self.dir / f"fp16-{size[0]}x{size[1]}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            from edgeunet.export.fp16 import convert_fp16

            self.log(f"bench: fp16 conversion -> {out}")
            return convert_fp16(self.fp32(size), out)

        return self._memo(f"fp16-{size}", make)

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
        data = self.calib_source()
        import hashlib

        tag = hashlib.sha256(f"{Path(data).resolve()}|{self.cfg.calib_images}".encode()).hexdigest()[:8]
        out = self.dir / f"int8-{target}-{size[0]}x{size[1]}-{tag}.onnx"
        if out.exists():
            return out

        def make() -> Path:
            from edgeunet.export.quantize import calibrate

            self.log(f"bench: calibrating int8 ({target} target) on {data} ({self.cfg.calib_images} images) -> {out}")
            calibrate(self.fp32(size), data, out, num_images=self.cfg.calib_images, method="minmax", target=target,
                      manifest_dir=self.dir / "calibration", progress=False)
            return out

        return self._memo(f"int8-{target}-{size}-{tag}", make)


# -- running one row --------------------------------------------------------------------------
def _input_batch(spec: Any, batch: int, size: List[int], data: Optional[Path]) -> np.ndarray:
    """The tensor preprocess makes for a real image (first image of --data, else a fixed random one), repeated `batch` times."""
    from edgeunet.core.processing import preprocess

    frame: Optional[np.ndarray] = None
    if data is not None:
        from edgeunet.core.images import read_image
        from edgeunet.data.dataset import find_samples

        samples = find_samples(data, require_masks=False)
        if samples:
            frame = read_image(samples[0].image)
    if frame is None:
        rng = np.random.default_rng(0)
        frame = rng.integers(0, 256, size=(size[0], size[1], 3), dtype=np.uint8)
    sized = spec.with_input_size(size, "bench")
    one = preprocess(frame, sized)
    return np.ascontiguousarray(np.repeat(one, batch, axis=0))


def _open(row: Row, path: Path, cfg: BenchConfig) -> Any:
    from edgeunet.runtime.base import load_backend

    options: Dict[str, Any] = {}
    if row.backend == "onnxruntime":
        options["threads"] = cfg.threads
        options["opt_level"] = cfg.ort_opt_level
        device = "cpu" if cfg.device == "auto" else cfg.device
        try:  # GPU providers when this onnxruntime has them (onnxruntime-gpu), else the CPU
            import onnxruntime

            if cfg.device == "auto" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                device = "cuda"
        except ImportError:
            pass
    elif row.backend == "torch":
        options["half"] = row.precision == "fp16"
        device = cfg.device
    else:
        device = "auto" if cfg.device in ("auto", "cuda") else cfg.device
    backend = load_backend(path, row.backend, device, **options)
    if row.backend == "torch":
        backend.spec = backend.spec.with_input_size(row.size, str(path))
        if cfg.threads:
            from edgeunet.model.checkpoint import require_torch

            require_torch().set_num_threads(int(cfg.threads))
    return backend


def _trt_engine(variants: Variants, row: Row, cfg: BenchConfig) -> Path:
    """An engine for this row: MODEL itself when it is one; else built (once) through `edgeunet build-engine`'s code."""
    if variants.is_engine:
        return variants.model
    from edgeunet.trt.runner import runtime_info

    runtime_info()  # TensorRT/pycuda missing: MissingDependencyError with the install step -> the row's reason
    from edgeunet.export.build_engine import BuildOptions, build_engine_command

    out = variants.dir / f"{row.precision}-{row.size[0]}x{row.size[1]}-b{row.batch}.engine"
    if out.exists():
        return out
    onnx = variants.fp32(row.size)
    shapes = None
    return build_engine_command(BuildOptions(
        onnx=onnx, fp16=row.precision in ("fp16", "int8"), int8=row.precision == "int8",
        calib_data=variants.calib_source() if row.precision == "int8" else None, val_data=cfg.data, out=out,
        shapes=shapes, max_drop=1.0,
    ), echo=variants.log)


def _model_file(variants: Variants, row: Row, cfg: BenchConfig) -> Path:
    if row.backend == "torch":
        if not variants.is_checkpoint:
            raise EdgeUnetError(f"the torch backend needs the .pt checkpoint ({variants.model.name} is not one)")
        if row.precision in INT8_TARGETS:
            raise EdgeUnetError("torch runs fp32/fp16 here; INT8 runs through onnxruntime or tensorrt")
        return variants.model
    if row.backend == "onnxruntime":
        if variants.is_engine:
            raise EdgeUnetError(f"{variants.model.name} is a TensorRT engine; onnxruntime needs the .onnx")
        if row.precision in INT8_TARGETS:
            return variants.int8(row.size, INT8_TARGETS[row.precision])
        return {"fp32": variants.fp32, "fp16": variants.fp16}[row.precision](row.size)
    if row.precision == "int8-cpu":
        raise EdgeUnetError("the cpu-target INT8 graph is for ONNX Runtime; TensorRT builds from the tensorrt-target one (int8 row)")
    return _trt_engine(variants, row, cfg)


def _pipeline_fps(backend: Any, video: Path, frames: int) -> Tuple[Optional[float], Optional[str]]:
    """End-to-end FPS over `video` through the very pipeline `edgeunet stream` runs, or (None, why not)."""
    from edgeunet.stream.pipeline import measure_pipeline

    try:
        report = measure_pipeline(backend, str(video), max_frames=frames)
    except EdgeUnetError as exc:
        return None, str(exc)
    return float(report["fps"]), None


def run_row(row: Row, variants: Variants, cfg: BenchConfig, samples: Optional[list]) -> Row:
    """Measure one row; any user-fixable failure (missing TensorRT, fp16 torch on CPU, ...) becomes its reason."""
    backend = None
    try:
        with RssSampler() as rss:
            path = _model_file(variants, row, cfg)
            row.file = str(path)
            row.file_mb = round(path.stat().st_size / 2**20, 3)
            backend = _open(row, path, cfg)
            row.device = str(backend.device)
            x = _input_batch(backend.spec, row.batch, row.size, cfg.data)
            lat = time_backend(backend.run, x, cfg.warmup, cfg.iterations, cfg.duration)
            row.latency_ms = {k: round(v, 4) for k, v in summarize(lat).items()}
            row.runs = len(lat)
            row.fps = round(row.batch * 1000.0 / row.latency_ms["mean"], 2)
            phases = getattr(getattr(backend, "runner", None), "phase_ms", None)
            if callable(phases):
                row.trt_phases_ms = {k: round(float(v), 4) for k, v in phases().items()}
            if samples and cfg.data is not None:
                from edgeunet.evaluate.evaluate import evaluate
                from edgeunet.runtime.segmenter import Segmenter

                metrics = evaluate(path, cfg.data, segmenter=Segmenter(backend), samples=samples)
                row.dice = round(float(metrics["dice"]), 5)
                row.miou = round(float(metrics["miou"]), 5)
            if cfg.video is not None and row.batch == 1:
                row.pipeline_fps, row.pipeline_note = _pipeline_fps(backend, cfg.video, cfg.video_frames)
        row.peak_rss_mb = round(rss.peak_mb, 1)
    except EdgeUnetError as exc:
        unavailable(row, str(exc))
    finally:
        if backend is not None:
            backend.close()
    return row


# -- the whole run ----------------------------------------------------------------------------
def plan_backends(model: Path, requested: List[str]) -> List[str]:
    if requested != ["auto"]:
        return requested
    if model_kind(model) == ENGINE:
        return ["tensorrt"]
    lead = ["torch"] if model_kind(model) == CHECKPOINT else []
    return lead + ["onnxruntime", "tensorrt"]


def check_config(cfg: BenchConfig) -> None:
    if not cfg.models:
        raise EdgeUnetError("bench needs at least one MODEL (.pt, .onnx or .engine)")
    for model in cfg.models:
        if not model.is_file():
            raise EdgeUnetError(f"{model}: no such model file")
        if model_kind(model) is None:
            raise EdgeUnetError(f"{model}: unknown model type {model.suffix or '(no suffix)'}; expected .pt, .onnx or .engine")
    for opt, folder in (("--data", cfg.data), ("--calib-data", cfg.calib_data)):
        if folder is not None and not folder.is_dir():
            raise EdgeUnetError(f"{opt} {folder}: no such folder")
    if cfg.video is not None and not cfg.video.is_file():
        raise EdgeUnetError(f"--video {cfg.video}: no such file")
    if cfg.iterations is not None and cfg.iterations < 1:
        raise EdgeUnetError(f"--iterations {cfg.iterations}: must be at least 1")
    if cfg.duration is not None and cfg.duration <= 0:
        raise EdgeUnetError(f"--duration {cfg.duration}: must be positive")
    if cfg.warmup < 0:
        raise EdgeUnetError(f"--warmup {cfg.warmup}: must be 0 or more")


def scoring_samples(model: Path, cfg: BenchConfig) -> Optional[list]:
    """The labelled pairs Dice/mIoU are computed on: all of --data, or with --val-split the images the model
    never trained on (the same split training and the accuracy gate use), so accuracy is not flattered."""
    if cfg.data is None:
        return None
    from edgeunet.data.dataset import find_samples

    if not cfg.val_split:
        samples = find_samples(cfg.data)
    elif model_kind(model) == CHECKPOINT:
        from edgeunet.evaluate.gate import split_samples_of
        from edgeunet.export.onnx_export import validation_split
        from edgeunet.model.checkpoint import load_checkpoint

        found = split_samples_of(validation_split(model, load_checkpoint(model).get("config") or {}))
        if found is None:
            raise EdgeUnetError(f"--val-split: {model} records no validation split; pass --data with held-out images instead")
        samples = found[0]
    elif model_kind(model) == ONNX:
        from edgeunet.evaluate.gate import validation_samples

        samples = validation_samples(model)[0]
    else:
        raise EdgeUnetError(f"--val-split: {model.name} is an engine; pass its validation images with --data instead")
    return samples[: cfg.eval_images] if cfg.eval_images else samples


def run_bench(cfg: BenchConfig, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Every row for every model; returns the JSON-ready report (schema SCHEMA)."""
    check_config(cfg)
    began = time.perf_counter()
    rows: List[Row] = []
    scored: List[int] = []
    for model in cfg.models:
        samples = scoring_samples(model, cfg)
        scored.append(len(samples) if samples else 0)
        variants = Variants(model, cfg, log)
        sizes = [[s, s] for s in cfg.sizes] or [variants.native_size()]
        for size in sizes:
            for backend in plan_backends(model, cfg.backends):
                for precision in cfg.precisions:
                    for batch in cfg.batches:
                        row = Row(model=str(model), backend=backend, precision=precision, batch=batch, size=list(size))
                        log(f"bench: {row.label} ...")
                        rows.append(run_row(row, variants, cfg, samples))
    add_speedups(rows)
    return {
        "schema": SCHEMA,
        "edgeunet_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "warmup": cfg.warmup, "iterations": cfg.iterations, "duration_s": cfg.duration, "threads": cfg.threads, "ort_opt_level": cfg.ort_opt_level,
            "device": cfg.device, "data": str(cfg.data) if cfg.data else None, "eval_images": max(scored) if any(scored) else None,
            "val_split": cfg.val_split,
            "calib_data": str(cfg.calib_data) if cfg.calib_data else None, "calib_images": cfg.calib_images,
            "video": str(cfg.video) if cfg.video else None,
        },
        "timing_method": timing_method(cfg),
        "seconds": round(time.perf_counter() - began, 1),
        "rows": [asdict(r) for r in rows],
    }


def add_speedups(rows: List[Row]) -> None:
    ref = {(r.model, r.backend, r.batch, tuple(r.size)): r.fps for r in rows if r.ok and r.precision == "fp32"}
    for r in rows:
        base = ref.get((r.model, r.backend, r.batch, tuple(r.size)))
        if r.ok and r.fps and base:
            r.speedup_vs_fp32 = round(r.fps / base, 3)


def timing_method(cfg: BenchConfig) -> str:
    count = f"{cfg.duration:g} s of timed runs" if cfg.duration is not None else f"{cfg.iterations} timed runs"
    return TIMING_METHOD.format(warmup=cfg.warmup, count=count)


def machine_info() -> Dict[str, Any]:
    info: Dict[str, Any] = {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
                            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    from edgeunet.trt import tensorrt_version

    info["tensorrt"] = tensorrt_version()
    return info


# -- reports ----------------------------------------------------------------------------------
def _f(value: Optional[float], fmt: str = "{:.2f}") -> str:
    return "" if value is None else fmt.format(value)


def table_rows(report: Dict[str, Any]) -> List[Dict[str, str]]:
    out = []
    for r in report["rows"]:
        lat = r.get("latency_ms") or {}
        ok = r["status"] == "ok"
        out.append({
            "backend": r["backend"], "precision": r["precision"], "batch": str(r["batch"]), "size": f"{r['size'][0]}x{r['size'][1]}",
            "device": _short_device(r.get("device") or ""), "MB": _f(r.get("file_mb")), "Dice": _f(r.get("dice"), "{:.4f}"),
            "mIoU": _f(r.get("miou"), "{:.4f}"), "mean ms": _f(lat.get("mean")), "p50 ms": _f(lat.get("p50")),
            "p95 ms": _f(lat.get("p95")), "p99 ms": _f(lat.get("p99")), "FPS": _f(r.get("fps"), "{:.1f}"),
            "x fp32": _f(r.get("speedup_vs_fp32"), "{:.2f}x"), "pipe FPS": _f(r.get("pipeline_fps"), "{:.1f}"),
            "peak RSS MB": _f(r.get("peak_rss_mb"), "{:.0f}"),
            "H2D/compute/D2H ms": "/".join(f"{(r.get('trt_phases_ms') or {}).get(k, 0):.2f}" for k in ("h2d", "compute", "d2h"))
            if r.get("trt_phases_ms") else "",
            "status": "ok" if ok else f"unavailable: {r.get('reason')}",
        })
    return out


def _short_device(device: str) -> str:
    return device.replace("ExecutionProvider", " EP")


def _footnoted(rows: List[Dict[str, str]]) -> Tuple[List[Dict[str, str]], List[str]]:
    """Long 'unavailable: reason' cells become 'unavailable [n]' with the reason printed once under the table."""
    reasons: List[str] = []
    out = []
    for row in rows:
        status = row["status"]
        if status.startswith("unavailable: "):
            if status not in reasons:
                reasons.append(status)
            status = f"unavailable [{reasons.index(status) + 1}]"
        out.append({**row, "status": status})
    return out, [f"[{i + 1}] {text}" for i, text in enumerate(reasons)]


def _columns(rows: List[Dict[str, str]]) -> List[str]:
    """Drop columns empty in every row (no --video: no pipeline column), keep the order."""
    cols = list(rows[0].keys()) if rows else []
    return [c for c in cols if c == "status" or any(r.get(c) for r in rows)]


def print_report(report: Dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rows, notes = _footnoted(table_rows(report))
    cols = _columns(rows)
    table = Table(title=escape(f"edgeunet bench ({report['machine'].get('host')})"), show_lines=False)
    for i, name in enumerate(cols):
        table.add_column(name, justify="left" if i < 2 or name == "status" else "right", overflow="fold")
    for row in rows:
        table.add_row(*(escape(row.get(c, "")) for c in cols))  # reasons hold "[trt]"-like text, not markup
    console = Console(soft_wrap=False)
    if not console.is_terminal:  # logs and CI: do not squeeze the table into 80 columns
        console = Console(soft_wrap=False, width=max(console.width, 180))
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)
    console.print(report["timing_method"], style="dim", markup=False, highlight=False)


def write_json(report: Dict[str, Any], path: Path) -> None:
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")


CSV_FIELDS = ["model", "backend", "precision", "batch", "height", "width", "status", "reason", "device", "file", "file_mb", "dice",
              "miou", "lat_mean_ms", "lat_p50_ms", "lat_p95_ms", "lat_p99_ms", "runs", "fps", "speedup_vs_fp32", "pipeline_fps",
              "peak_rss_mb", "trt_h2d_ms", "trt_compute_ms", "trt_d2h_ms"]


def write_csv(report: Dict[str, Any], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in report["rows"]:
        lat = r.get("latency_ms") or {}
        phases = r.get("trt_phases_ms") or {}
        writer.writerow({
            **r, "height": r["size"][0], "width": r["size"][1], "lat_mean_ms": lat.get("mean"), "lat_p50_ms": lat.get("p50"),
            "lat_p95_ms": lat.get("p95"), "lat_p99_ms": lat.get("p99"), "trt_h2d_ms": phases.get("h2d"),
            "trt_compute_ms": phases.get("compute"), "trt_d2h_ms": phases.get("d2h"),
        })
    atomic_write_text(path, buffer.getvalue())


def markdown(report: Dict[str, Any], command: Optional[str] = None) -> str:
    rows = table_rows(report)
    cols = _columns(rows)
    lines = [f"# edgeunet bench — {report['machine'].get('host')} — {report['created']}", ""]
    if command:
        lines += ["```", command, "```", ""]
    m = report["machine"]
    lines += [f"Machine: {m.get('platform')}, {m.get('processor')}, {m.get('cpu_count')} CPU(s); onnxruntime {m.get('onnxruntime')}; "
              f"TensorRT {m.get('tensorrt') or 'not installed'}; edgeunet {report['edgeunet_version']}.", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row.get(c, "").replace("|", "/") for c in cols) + " |")
    lines += ["", report["timing_method"], ""]
    return "\n".join(lines)


def write_markdown(report: Dict[str, Any], path: Path, command: Optional[str] = None) -> None:
    atomic_write_text(path, markdown(report, command))


def write_plot(report: Dict[str, Any], path: Path) -> None:
    """Bar chart: FPS per variant, annotated with Dice; unavailable rows are shown as empty hatched bars named 'n/a'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [Row(**r) for r in report["rows"]]
    if not rows:
        raise EdgeUnetError("nothing to plot: no rows")
    labels = [r.label for r in rows]
    values = [r.fps or 0.0 for r in rows]
    colours = {"torch": "#e4572e", "onnxruntime": "#29335c", "tensorrt": "#76b900"}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(rows) + 2), 4.5))
    bars = ax.bar(range(len(rows)), values, color=[colours.get(r.backend, "#888") for r in rows])
    top = max(values) if any(values) else 1.0
    for bar, r in zip(bars, rows):
        if not r.ok:
            bar.set_hatch("//")
            bar.set_height(top * 0.03)
            bar.set_facecolor("white")
            bar.set_edgecolor("#999")
            text = "n/a"
        else:
            text = f"{r.fps:.1f}" + (f"\nDice {r.dice:.3f}" if r.dice is not None else "")
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("FPS (model-only, batch x 1000 / mean ms)")
    ax.set_ylim(0, top * 1.25)
    ax.set_title(f"edgeunet bench — {report['machine'].get('host')}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png", dpi=120)
    plt.close(fig)


# -- decisions ---------------------------------------------------------------------------------
def check_min_dice(report: Dict[str, Any], floor: float) -> None:
    """One-line failure when any measured row is below `floor` (unmeasured rows do not count)."""
    scored = [Row(**r) for r in report["rows"] if r["status"] == "ok" and r.get("dice") is not None]
    if not scored:
        raise EdgeUnetError("--min-dice needs Dice scores: pass --data DIR (images/ + masks/)")
    below = [r for r in scored if (r.dice or 0.0) < floor]
    if below:
        worst = ", ".join(f"{r.label} {r.dice:.4f}" for r in below[:4]) + (" ..." if len(below) > 4 else "")
        raise EdgeUnetError(f"--min-dice {floor}: {len(below)} of {len(scored)} row(s) below the floor: {worst}", exit_code=4)


def choose(report: Dict[str, Any], max_drop: float) -> Dict[str, Any]:
    """The fastest measured variant whose Dice drop vs fp32 (same model and size) is within `max_drop`."""
    rows = [Row(**r) for r in report["rows"] if r["status"] == "ok"]
    if not any(r.dice is not None for r in rows):
        raise EdgeUnetError("--choose needs Dice scores: pass --data DIR (images/ + masks/)")
    ref: Dict[Tuple[str, Tuple[int, ...]], float] = {}
    for r in rows:
        if r.precision == "fp32" and r.dice is not None:
            key = (r.model, tuple(r.size))
            ref[key] = max(ref.get(key, 0.0), r.dice)
    candidates: List[Dict[str, Any]] = []
    for r in rows:
        base = ref.get((r.model, tuple(r.size)))
        if r.dice is None or base is None or r.fps is None:
            continue
        drop = base - r.dice
        candidates.append({"label": r.label, "backend": r.backend, "precision": r.precision, "batch": r.batch,
                           "size": r.size, "file": r.file, "fps": r.fps, "dice": r.dice, "fp32_dice": base,
                           "dice_drop": round(drop, 5), "accepted": drop <= max_drop})
    accepted = sorted((c for c in candidates if c["accepted"]), key=lambda c: -c["fps"])
    if not accepted:
        raise EdgeUnetError(f"--choose: no measured variant is within --max-drop {max_drop} of fp32 Dice")
    notes = int8_notes(rows)
    return {"schema": "edgeunet-recommendation/1", "max_drop": max_drop, "recommended": accepted[0],
            "notes": notes, "candidates": sorted(candidates, key=lambda c: -c["fps"]), "bench_created": report["created"]}


def int8_notes(rows: List[Row]) -> List[str]:
    """Plain sentences wherever INT8 is not faster than FP16/FP32 on the same backend, batch and size."""
    notes = []
    for r in rows:
        if r.precision not in INT8_TARGETS or r.fps is None:
            continue
        others = [o for o in rows if o.backend == r.backend and o.batch == r.batch and o.size == r.size and o.model == r.model
                  and o.precision in ("fp32", "fp16") and o.fps is not None]
        faster = [o for o in others if (o.fps or 0) >= r.fps]
        if faster:
            best = max(faster, key=lambda o: o.fps or 0)
            notes.append(f"INT8 ({r.precision}) is not faster than {best.precision.upper()} on this device with {r.backend} "
                         f"(batch {r.batch}, {r.size[0]}x{r.size[1]}): {r.precision} {r.fps:.1f} FPS vs {best.precision} {best.fps:.1f} FPS")
    return notes


def iter_ok(report: Dict[str, Any]) -> Iterator[Row]:
    for r in report["rows"]:
        if r["status"] == "ok":
            yield Row(**r)


# -- the command ---------------------------------------------------------------------------------
def bench_command(
    models: Sequence[Path],
    precisions: str = "fp32,fp16,int8,int8-cpu",
    backends: str = "auto",
    data: Optional[Path] = None,
    calib_data: Optional[Path] = None,
    video: Optional[Path] = None,
    batch: str = "1",
    size: Optional[str] = None,
    warmup: int = 10,
    iterations: Optional[int] = None,
    duration: Optional[float] = None,
    threads: Optional[int] = None,
    ort_opt_level: str = "all",
    val_split: bool = False,
    device: str = "auto",
    cache: Optional[Path] = None,
    calib_images: int = 32,
    eval_images: Optional[int] = None,
    json_out: Optional[Path] = None,
    csv_out: Optional[Path] = None,
    md_out: Optional[Path] = None,
    plot: Optional[Path] = None,
    min_dice: Optional[float] = None,
    choose_best: bool = False,
    max_drop: float = 0.01,
    recommend_out: Optional[Path] = None,
    command: Optional[str] = None,
    echo: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """Parse, run, print the table, write the reports (atomically), then apply --min-dice and --choose."""
    if iterations is not None and duration is not None:
        raise EdgeUnetError("--iterations and --duration exclude each other: choose one")
    if val_split and data is None:
        raise EdgeUnetError("--val-split scores on the model's validation split of its training data: pass that folder as --data")
    if (min_dice is not None or choose_best) and data is None:
        raise EdgeUnetError(f"{'--min-dice' if min_dice is not None else '--choose'} needs Dice scores: pass --data DIR (images/ + masks/)")
    cfg = BenchConfig(
        models=[Path(m) for m in models],
        precisions=parse_list(precisions, BENCH_PRECISIONS, "--precisions"),
        backends=["auto"] if backends.strip().lower() == "auto" else parse_list(backends, BACKENDS, "--backends"),
        data=data, calib_data=calib_data, video=video, batches=parse_ints(batch, "--batch"),
        sizes=parse_ints(size, "--size", minimum=16) if size else [], warmup=warmup,
        iterations=None if duration is not None else (iterations or 100), duration=duration, threads=threads, device=device,
        ort_opt_level=ort_opt_level, val_split=val_split,
        cache=cache, calib_images=calib_images, eval_images=eval_images,
    )
    report = run_bench(cfg, log=echo)
    report["command"] = command
    print_report(report)
    written = []
    if json_out is not None:
        write_json(report, json_out)
        written.append(f"JSON {json_out}")
    if csv_out is not None:
        write_csv(report, csv_out)
        written.append(f"CSV {csv_out}")
    if md_out is not None:
        write_markdown(report, md_out, command)
        written.append(f"Markdown {md_out}")
    if plot is not None:
        write_plot(report, plot)
        written.append(f"chart {plot}")
    if written:
        echo("wrote " + ", ".join(written))
    for note in int8_notes(list(iter_ok(report))):
        echo(note)
    if choose_best:
        rec = choose(report, max_drop)
        target = recommend_out or ((json_out.parent if json_out is not None else Path(".")) / "recommended.json")
        atomic_write_text(target, json.dumps(rec, indent=2) + "\n")
        best = rec["recommended"]
        echo(f"recommended: {best['label']} ({best['fps']:.1f} FPS, Dice {best['dice']:.4f}, drop {best['dice_drop']:+.4f} "
             f"<= {max_drop}) -> {target}")
    if min_dice is not None:
        check_min_dice(report, min_dice)
    return report
