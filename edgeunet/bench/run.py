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
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.bench.config import SHORT, BenchConfig, BenchOutputs, Row, check_config, check_outputs, unavailable
from edgeunet.bench.decide import check_min_dice, int8_notes, iter_ok, recommendation_line, write_recommendation
from edgeunet.bench.report import SCHEMA, print_report, write_reports
from edgeunet.bench.timing import RssSampler, machine_info, summarize, time_backend, timing_method
from edgeunet.bench.variants import Variants, fallback_layers_of, model_file
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
    if spec.end_to_end:  # the graph takes whole frames of one size: time it on exactly that (no CPU resize in the loop)
        import cv2

        frame = cv2.resize(frame, (spec.frame_size[1], spec.frame_size[0]), interpolation=cv2.INTER_LINEAR)
    sized = spec.with_input_size(size, "bench")
    one = preprocess(frame, sized)
    return np.ascontiguousarray(np.repeat(one, batch, axis=0))


def open_backend(row: Row, path: Path, cfg: BenchConfig) -> Any:
    """The row's backend on its file, opened with the run's options (runtime.base.BackendOptions: one set for all)."""
    from edgeunet.runtime.base import BackendOptions, load_backend
    from edgeunet.runtime.registry import get_backend

    options = BackendOptions(device=cfg.device, threads=cfg.threads, opt_level=cfg.ort_opt_level, half=row.precision == "fp16")
    backend = load_backend(path, row.backend, **options.kwargs())
    if get_backend(row.backend).opens == CHECKPOINT:  # a checkpoint runs at any size: the row's, not the trained one
        backend.spec = backend.spec.with_input_size(row.size, str(path))
    return backend


def _recording_phases(backend: Any, phases: List[Dict[str, float]]) -> Callable[[np.ndarray], Any]:
    """backend.run, keeping the H2D / compute / D2H split of each run where the backend reports one (TensorRT)."""

    def run(x: np.ndarray) -> Any:
        out = backend.run(x)
        split = getattr(backend, "phase_ms", None)
        if split:
            phases.append(dict(split))
        return out

    return run


def _pipeline_fps(backend: Any, video: Path, frames: int) -> Tuple[Optional[float], Optional[str]]:
    """End-to-end FPS over `video` through the very pipeline `edgeunet stream` runs, or (None, why not)."""
    from edgeunet.stream.measure import measure_pipeline

    try:
        report = measure_pipeline(backend, str(video), max_frames=frames)
    except EdgeUnetError as exc:
        return None, str(exc)
    return float(report["fps"]), None


def run_row(row: Row, variants: Variants, cfg: BenchConfig, samples: Optional[list]) -> Row:
    """Measure one row; any user-fixable failure (missing TensorRT, fp16 torch on CPU, ...) becomes its reason."""
    try:
        with RssSampler() as rss:
            path = model_file(variants, row, cfg)
            row.file = str(path)
            row.file_mb = round(path.stat().st_size / 2**20, 3)
            if row.precision.startswith("int8") and path.suffix.lower() == ".onnx":
                from edgeunet.export.inspect import count_qdq

                row.qdq_pairs = count_qdq(path).pairs
            if row.precision == "int8-fallback":
                row.float_layers = variants.fallback_layers()
            with open_backend(row, path, cfg) as backend:
                _measure(row, backend, path, cfg, samples)
        row.peak_rss_mb = round(rss.peak_mb, 1)
    except EdgeUnetError as exc:
        unavailable(row, str(exc))
    return row


def _measure(row: Row, backend: Any, path: Path, cfg: BenchConfig, samples: Optional[list]) -> None:
    """Latency (and TensorRT's phases), then Dice/mIoU on `samples`, then pipeline FPS over --video, into `row`."""
    row.device = str(backend.device)
    x = input_batch(backend.spec, row.batch, row.size, cfg.data)
    phases: List[Dict[str, float]] = []
    lat = time_backend(_recording_phases(backend, phases), x, cfg.warmup, cfg.iterations, cfg.duration)
    row.latency_ms = {k: round(v, 4) for k, v in summarize(lat).items()}
    row.runs = len(lat)
    row.fps = round(row.batch * 1000.0 / row.latency_ms["mean"], 2)
    if phases:
        timed = phases[-len(lat):]
        row.trt_phases_ms = {k: round(float(np.median([p[k] for p in timed])), 4) for k in timed[0]}
    if samples and cfg.data is not None:
        from edgeunet.evaluate.evaluate import evaluate
        from edgeunet.runtime.segmenter import Segmenter

        metrics = evaluate(path, cfg.data, segmenter=Segmenter(backend), samples=samples)
        row.dice = round(float(metrics["dice"]), 5)
        row.miou = round(float(metrics["miou"]), 5)
    if cfg.video is not None and row.batch == 1:
        row.pipeline_fps, row.pipeline_note = _pipeline_fps(backend, cfg.video, cfg.video_frames)


# -- the whole run ----------------------------------------------------------------------------
# which model kinds bench can make from a given one (a checkpoint is exported, an ONNX built into an engine)
REACHABLE = {CHECKPOINT: (CHECKPOINT, ONNX, ENGINE), ONNX: (ONNX, ENGINE), ENGINE: (ENGINE,)}


def plan_backends(model: Path, requested: List[str]) -> List[str]:
    """--backends auto: every registered backend whose file kind bench can make from `model`, in table order."""
    if requested != ["auto"]:
        return requested
    from edgeunet.runtime.registry import BACKENDS

    reachable = REACHABLE.get(model_kind(model) or "", ())
    return [entry.name for entry in BACKENDS if entry.opens in reachable]


def scoring_samples(model: Path, cfg: BenchConfig) -> Optional[list]:
    """The labelled pairs Dice/mIoU are computed on: all of --data, or with --val-split the images the model
    never trained on (the same split training and the accuracy gate use), so accuracy is not flattered."""
    if cfg.data is None:
        return None
    from edgeunet.data.dataset import find_samples

    if not cfg.val_split:
        samples = find_samples(cfg.data)
    elif model_kind(model) == CHECKPOINT:
        from edgeunet.data.splits import recorded_validation, split_record
        from edgeunet.model.checkpoint import load_checkpoint

        found = recorded_validation(split_record(model, load_checkpoint(model).get("config") or {}))
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
    if cfg.fallback is not None:
        fallback_layers_of(cfg.fallback)  # no float layers recorded: one line now, not an unavailable row later
    began = time.perf_counter()
    rows: List[Row] = []
    costs: List[Dict[str, Any]] = []
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
                if cfg.fallback is not None and backend != "torch":
                    costs += float_layer_costs(model, size, backend, variants, cfg, log)
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
        "float_layer_costs": costs,
    }


def float_layer_costs(model: Path, size: List[int], backend: str, variants: Variants, cfg: BenchConfig,
                      log: Callable[[str], None]) -> List[Dict[str, Any]]:
    """What each layer the --fallback file leaves in float costs in time on `backend`, batch 1.

    Each layer alone in float, then all of them, against the all-INT8 Q/DQ graph, timed back to back in one phase
    (so the reference is as fresh as the rows it is subtracted from), on the same graph family TensorRT builds
    explicitly. Why per layer: the fallback picks layers by accuracy; this is the other half of that trade.
    """
    try:
        layers = variants.fallback_layers()
    except EdgeUnetError as exc:
        return [{"model": str(model), "backend": backend, "size": list(size), "layer": None, "status": "unavailable", "reason": str(exc)}]
    quiet = replace(cfg, video=None)

    def timed(float_layers: List[str], what: str) -> Row:
        log(f"bench: {SHORT.get(backend, backend)}-int8 {size[0]}x{size[1]}, float: {what} ...")
        row = Row(model=str(model), backend=backend, precision="int8", batch=1, size=list(size), float_layers=float_layers)
        return run_row(row, variants, quiet, None)

    reference = timed([], "none (all INT8)")
    if not reference.ok:  # e.g. no TensorRT here: one line, not one per layer
        return [{"model": str(model), "backend": backend, "size": list(size), "layer": None, "status": "unavailable",
                 "reason": f"the all-INT8 reference: {reference.reason}"}]
    entries = []
    for layer_list, what in [([name], name) for name in layers] + [(layers, f"all {len(layers)} together")]:
        row = timed(layer_list, what)
        entry: Dict[str, Any] = {"model": str(model), "backend": backend, "size": list(size), "layer": what,
                                 "float_layers": len(layer_list), "status": row.status, "reason": row.reason}
        if row.ok and row.latency_ms and reference.latency_ms:
            base, ms = reference.latency_ms["p50"], row.latency_ms["p50"]
            entry.update(p50_ms=ms, int8_p50_ms=base, cost_ms=round(ms - base, 4), cost_pct=round(100.0 * (ms - base) / base, 1))
        entries.append(entry)
    singles = sorted(entries[:-1], key=lambda e: -e["cost_ms"] if "cost_ms" in e else float("inf"))  # dearest first
    return singles + entries[-1:]


def add_speedups(rows: List[Row]) -> None:
    ref = {(r.model, r.backend, r.batch, tuple(r.size)): r.fps for r in rows if r.ok and r.precision == "fp32"}
    for r in rows:
        base = ref.get((r.model, r.backend, r.batch, tuple(r.size)))
        if r.ok and r.fps and base:
            r.speedup_vs_fp32 = round(r.fps / base, 3)


# -- the command ---------------------------------------------------------------------------------
def bench_command(cfg: BenchConfig, outputs: Optional[BenchOutputs] = None, echo: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run, print the table, write the reports (atomically), then apply --min-dice and --choose."""
    outputs = outputs or BenchOutputs()
    check_outputs(cfg, outputs)
    report = run_bench(cfg, log=echo)
    report["command"] = outputs.command
    print_report(report)
    written = write_reports(report, json_out=outputs.json_out, csv_out=outputs.csv_out, md_out=outputs.md_out, plot=outputs.plot,
                            command=outputs.command)
    if written:
        echo("wrote " + ", ".join(written))
    for note in int8_notes(list(iter_ok(report))):
        echo(note)
    if outputs.choose_best:
        target = outputs.recommend_out or ((outputs.json_out.parent if outputs.json_out is not None else Path(".")) / "recommended.json")
        echo(recommendation_line(write_recommendation(report, cfg.max_drop, target), target))
    if outputs.min_dice is not None:
        check_min_dice(report, outputs.min_dice)
    return report
