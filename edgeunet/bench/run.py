"""`edgeunet bench`: speed and accuracy of every backend x precision x batch, measured the same way.

Why one harness: users pick a precision from one table, so every row must be timed by the same loop
on the same input (bench.timing), and scored by the same metrics module (edgeunet.evaluate.evaluate ->
edgeunet.core.metrics). This module walks models x sizes x backends x precisions x batches, measures each
row on the file bench.variants derives for it, then hands the report to bench.report and bench.decide.

No torch at module level: only the torch backend and export import it, lazily.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.bench.config import BACKENDS, BENCH_PRECISIONS, BenchConfig, Row, check_config, parse_ints, parse_list, unavailable
from edgeunet.bench.decide import check_min_dice, int8_notes, iter_ok, recommendation_line, write_recommendation
from edgeunet.bench.report import SCHEMA, print_report, write_reports
from edgeunet.bench.timing import RssSampler, machine_info, summarize, time_backend, timing_method
from edgeunet.bench.variants import Variants, model_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import CHECKPOINT, ENGINE, ONNX, model_kind
from edgeunet.core.version import __version__


# -- running one row --------------------------------------------------------------------------
def input_batch(spec: Any, batch: int, size: List[int], data: Optional[Path]) -> np.ndarray:
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


def open_backend(row: Row, path: Path, cfg: BenchConfig) -> Any:
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
            path = model_file(variants, row, cfg)
            row.file = str(path)
            row.file_mb = round(path.stat().st_size / 2**20, 3)
            backend = open_backend(row, path, cfg)
            row.device = str(backend.device)
            x = input_batch(backend.spec, row.batch, row.size, cfg.data)
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
    written = write_reports(report, json_out=json_out, csv_out=csv_out, md_out=md_out, plot=plot, command=command)
    if written:
        echo("wrote " + ", ".join(written))
    for note in int8_notes(list(iter_ok(report))):
        echo(note)
    if choose_best:
        target = recommend_out or ((json_out.parent if json_out is not None else Path(".")) / "recommended.json")
        echo(recommendation_line(write_recommendation(report, max_drop, target), target))
    if min_dice is not None:
        check_min_dice(report, min_dice)
    return report
