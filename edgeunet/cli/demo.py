"""`edgeunet demo`: the whole chain on synthetic data, on a fresh machine, in a few minutes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict

import click

from edgeunet.cli.options import PathArg


def fresh_folder(base: Path) -> Path:
    """base, or base2, base3, ... (like Ultralytics' runs): a demo never overwrites an earlier one."""
    if not base.exists():
        return base
    n = 2
    while Path(f"{base}{n}").exists():
        n += 1
    return Path(f"{base}{n}")


def run_demo(out: Path, epochs: int = 15) -> Dict[str, Path]:
    from edgeunet.core.atomic import write_json
    from edgeunet.core.metrics import format_row
    from edgeunet.core.tables import print_table
    from edgeunet.data.synth import make_dataset, make_video
    from edgeunet.evaluate.evaluate import evaluate
    from edgeunet.train.config import TrainConfig
    from edgeunet.train.run import train

    began = time.perf_counter()
    out = fresh_folder(out)
    print(f"edgeunet demo -> {out}", flush=True)
    data = make_dataset(out / "data" / "train", count=48, size=128, seed=0)
    test = make_dataset(out / "data" / "test", count=12, size=128, seed=1)
    video = make_video(out / "data" / "cells.avi")
    cfg = TrainConfig(
        data=str(data), out=str(out / "run"), width=16, size=128, epochs=epochs,
        batch_size=8, lr=3e-3, patience=0, snapshot_samples=3,
    )
    run_dir = train(cfg)
    result = evaluate(run_dir / "best.pt", test, save_predictions=out / "predictions")
    write_json(out / "evaluate.json", result, sort_keys=True)
    print_table([format_row("best.pt", result, result["class_names"])], title="held-out synthetic test set")
    places = {
        "training data": data,
        "test data": test,
        "synthetic video": video,
        "run (checkpoints, metrics.csv)": run_dir,
        "learning curves": run_dir / "curves.png",
        "per-epoch snapshots": run_dir / "snapshots",
        "learning animation": run_dir / "learning.gif",
        "test predictions": out / "predictions",
        "test metrics": out / "evaluate.json",
    }
    places.update(_bench(run_dir / "best.pt", data, test, out))
    places.update(_stream(out / "models", video, out))
    print(f"\ndemo finished in {time.perf_counter() - began:.0f} s; where everything is:")
    for what, where in places.items():
        print(f"  {what:32s} {where}")
    return places


def _bench(checkpoint: Path, train_data: Path, test: Path, out: Path) -> Dict[str, Path]:
    """export -> fp16 -> calibrate int8 -> bench table and chart, with small iteration counts (the demo stays fast)."""
    from edgeunet.bench.config import BenchOutputs, bench_config
    from edgeunet.bench.run import bench_command

    models = out / "models"
    print("\nexport -> fp16 -> int8 calibration -> bench (20 timed runs per row; `edgeunet bench` for real numbers)", flush=True)
    report = bench_command(
        bench_config([checkpoint], data=test, calib_data=train_data, cache=models, warmup=3, iterations=20, calib_images=16),
        BenchOutputs(json_out=out / "bench.json", md_out=out / "bench.md", plot=out / "bench.png",
                     command=f"edgeunet bench {checkpoint} --data {test} --calib-data {train_data} --warmup 3 --iterations 20"),
    )
    files = sorted({Path(r["file"]).parent for r in report["rows"] if r.get("file") and r["backend"] == "onnxruntime"})
    return {
        "ONNX models, every precision": files[0] if files else models,
        "bench table (JSON, Markdown)": out / "bench.md",
        "bench chart": out / "bench.png",
    }


def _stream(models: Path, video: Path, out: Path) -> Dict[str, Path]:
    """The last step a user would take: the fp32 ONNX over the synthetic 'camera' into an overlay video, timed per stage."""
    from edgeunet.stream.command import stream_command

    onnx = sorted(models.rglob("fp32-*.onnx"))
    if not onnx:
        print("\nstream skipped: no fp32 ONNX in the bench cache", flush=True)
        return {}
    overlay, stats = out / "stream" / "cells_overlay.mp4", out / "stream" / "stats.json"
    print(f"\nstream {video.name} -> {overlay.name} (`edgeunet stream {onnx[0]} {video} --output {overlay} --stats {stats}`)", flush=True)
    stream_command(onnx[0], str(video), [str(overlay)], stats_out=stats, threads=None)
    return {"stream overlay video": overlay, "stream latency (JSON)": stats}


@click.command()
@click.option("--out", type=PathArg, default=Path("runs/demo"), show_default=True, help="A new folder (demo2, demo3... if taken).")
@click.option("--epochs", type=click.IntRange(min=1), default=15, show_default=True)
def demo(out: Path, epochs: int) -> None:
    """The whole chain on built-in synthetic data: synth -> train -> evaluate -> pictures."""
    import shutil

    target = fresh_folder(out)  # new by construction, so removing it on a full disk loses nothing the user had
    try:
        run_demo(target, epochs=epochs)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        raise
