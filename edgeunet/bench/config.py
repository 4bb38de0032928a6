"""What one bench run measures (BenchConfig) and what one measurement holds (Row), plus the option parsing.

Why a module of its own: variants, timing, report and decide all read these shapes, and none of them
should need the runner to know what a row is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import model_kind
from edgeunet.core.precisions import BENCH_PRECISIONS, DEFAULT_BENCH_PRECISIONS, PRECISIONS_TABLE
from edgeunet.runtime.registry import BACKEND_NAMES, SHORT

# The rows bench can measure are the precisions of core.precisions (int8: the TensorRT-valid symmetric Q/DQ graph
# build-engine uses; int8-cpu: the graph ONNX Runtime runs fastest on a CPU; int8-modelopt, int8-qat and int8-fallback:
# second opinions and given files, none of them a default) and the backends of runtime.registry.
DEFAULT_PRECISIONS = DEFAULT_BENCH_PRECISIONS
INT8_TARGETS = {"int8": "tensorrt", "int8-cpu": "cpu"}  # the two edgeunet calibrate targets
INT8_PRECISIONS = tuple(p.name for p in PRECISIONS_TABLE if p.is_int8)
# Q/DQ graphs TensorRT builds as they are (bench's own `int8` is calibrated by build-engine from the fp32 ONNX instead)
GIVEN_QDQ_PRECISIONS = tuple(p.name for p in PRECISIONS_TABLE if p.is_int8 and p.stored_as and not p.no_engine)
BACKENDS = BACKEND_NAMES


@dataclass
class BenchConfig:
    models: List[Path]
    precisions: List[str] = field(default_factory=lambda: list(DEFAULT_PRECISIONS))
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
    max_drop: float = 0.01  # the accuracy gate of bench's own INT8/FP16 variants and engines, and --choose
    qat: Optional[Path] = None  # RUN/best.int8.onnx of `edgeunet train --qat`: the int8-qat rows
    fallback: Optional[Path] = None  # an INT8 ONNX with float layers: the int8-fallback rows and the cost of each float layer


@dataclass
class BenchOutputs:
    """Where a run's reports go and what is decided from them (--min-dice, --choose)."""

    json_out: Optional[Path] = None
    csv_out: Optional[Path] = None
    md_out: Optional[Path] = None
    plot: Optional[Path] = None
    min_dice: Optional[float] = None
    choose_best: bool = False
    recommend_out: Optional[Path] = None
    command: Optional[str] = None


def bench_config(
    models: Sequence[Path], precisions: str = ",".join(DEFAULT_PRECISIONS), backends: str = "auto", batch: str = "1",
    size: Optional[str] = None, iterations: Optional[int] = None, duration: Optional[float] = None, **options: Any,
) -> BenchConfig:
    """The command line's text options parsed into a BenchConfig (the rest are BenchConfig fields by name)."""
    if iterations is not None and duration is not None:
        raise EdgeUnetError("--iterations and --duration exclude each other: choose one")
    if options.get("val_split") and options.get("data") is None:
        raise EdgeUnetError("--val-split scores on the model's validation split of its training data: pass that folder as --data")
    wanted = parse_list(precisions, BENCH_PRECISIONS, "--precisions")
    if options.get("fallback") is not None:  # the fallback rows, and the all-INT8 rows each float layer's cost is measured against
        wanted += [p for p in ("int8", "int8-fallback") if p not in wanted]
    return BenchConfig(
        models=[Path(m) for m in models],
        precisions=wanted,
        backends=["auto"] if backends.strip().lower() == "auto" else parse_list(backends, BACKENDS, "--backends"),
        batches=parse_ints(batch, "--batch"), sizes=parse_ints(size, "--size", minimum=16) if size else [],
        iterations=None if duration is not None else (iterations or 100), duration=duration, **options,
    )


def check_outputs(cfg: BenchConfig, outputs: BenchOutputs) -> None:
    if (outputs.min_dice is not None or outputs.choose_best) and cfg.data is None:
        flag = "--min-dice" if outputs.min_dice is not None else "--choose"
        raise EdgeUnetError(f"{flag} needs Dice scores: pass --data DIR (images/ + masks/)")


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
    qdq_pairs: Optional[int] = None  # QuantizeLinear->DequantizeLinear pairs of the row's ONNX (export/inspect.count_qdq)
    trt_phases_ms: Optional[Dict[str, float]] = None  # h2d, compute, d2h (TensorRT rows, when the runner reports them)
    float_layers: Optional[List[str]] = None  # int8-fallback rows: the layers its ONNX leaves in float

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
    if cfg.qat is not None and not cfg.qat.is_file():
        raise EdgeUnetError(f"--qat {cfg.qat}: no such file; pass the RUN/best.int8.onnx that `edgeunet train --qat` wrote")
    if "int8-qat" in cfg.precisions and cfg.qat is None:
        raise EdgeUnetError("--precisions int8-qat needs --qat RUN/best.int8.onnx (written by `edgeunet train --qat`)")
    if cfg.fallback is not None and not cfg.fallback.is_file():
        raise EdgeUnetError(f"--fallback {cfg.fallback}: no such file; pass the INT8 ONNX that `edgeunet calibrate --fallback auto` wrote")
    if "int8-fallback" in cfg.precisions and cfg.fallback is None:
        raise EdgeUnetError("--precisions int8-fallback needs --fallback MODEL.int8.onnx (written by `edgeunet calibrate --fallback auto`)")
    if cfg.video is not None and not cfg.video.is_file():
        raise EdgeUnetError(f"--video {cfg.video}: no such file")
    if cfg.iterations is not None and cfg.iterations < 1:
        raise EdgeUnetError(f"--iterations {cfg.iterations}: must be at least 1")
    if cfg.duration is not None and cfg.duration <= 0:
        raise EdgeUnetError(f"--duration {cfg.duration}: must be positive")
    if cfg.warmup < 0:
        raise EdgeUnetError(f"--warmup {cfg.warmup}: must be 0 or more")


