"""`edgeunet bench`: the same measurement for every backend x precision x batch, with accuracy beside speed."""

from __future__ import annotations

import shlex
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, List

import click

from edgeunet.cli.options import MaxDropGroup, PathArg, RuntimeGroup
from edgeunet.core.precisions import DEFAULT_BENCH_PRECISIONS, precisions_help
from edgeunet.runtime.registry import backends_help


@click.command("bench")
@click.argument("models", type=PathArg, nargs=-1, required=True)
@click.option("--precisions", default=",".join(DEFAULT_BENCH_PRECISIONS), show_default=True,
              help="Comma-separated: " + precisions_help() + ".")
@click.option("--backends", default="auto", show_default=True, help="auto, or comma-separated: " + backends_help(auto=False))
@click.option("--data", type=PathArg, default=None, help="Labelled folder (images/ + masks/): Dice and mIoU per row.")
@click.option("--calib-data", type=PathArg, default=None, help="INT8 calibration images (default: --data, else the training data).")
@click.option("--video", type=PathArg, default=None, help="Also measure end-to-end pipeline FPS over this video.")
@click.option("--batch", default="1", show_default=True, help="Comma-separated batch sizes, e.g. 1,4.")
@click.option("--size", default=None, help="Comma-separated square input sizes, e.g. 256,512 (default: the model's).")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True, help="Untimed runs before timing.")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Timed runs per row (default 100).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds of timed runs per row (instead of --iterations).")
@RuntimeGroup(threads_help="Intra-op threads for ONNX Runtime and torch (default: theirs).", backend=False)
@click.option("--cache", type=PathArg, default=None, help="Folder for derived variants (default: bench-cache/ next to MODEL).")
@click.option("--calib-images", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--qat", type=PathArg, default=None, help="RUN/best.int8.onnx of `edgeunet train --qat`: measured as the int8-qat rows.")
@click.option("--fallback", type=PathArg, default=None,
              help="An INT8 ONNX with layers left in float (`calibrate --fallback auto` / `--keep-float`): measured as the "
                   "int8-fallback rows, plus the speed cost of each of its float layers against all-INT8.")
@click.option("--eval-images", type=click.IntRange(min=1), default=None, help="Score only the first N images of --data.")
@click.option("--val-split", is_flag=True, help="Score on each model's own validation split (as trained), not all of --data.")
@click.option("--json", "json_out", type=PathArg, default=None)
@click.option("--csv", "csv_out", type=PathArg, default=None)
@click.option("--md", "md_out", type=PathArg, default=None)
@click.option("--plot", type=PathArg, default=None, help="Bar chart PNG of FPS per variant, annotated with Dice.")
@click.option("--min-dice", type=float, default=None, help="Fail (exit 4) when any measured row has a lower Dice.")
@click.option("--choose", "choose_best", is_flag=True, help="Write recommended.json: the fastest variant within --max-drop.")
@MaxDropGroup("--choose")
@click.option("--recommend-out", type=PathArg, default=None, help="Where --choose writes (default: recommended.json next to --json, else ./).")
def bench_cmd(models: List[Path], **options: Any) -> None:
    """Speed and accuracy of MODEL across backends x precisions x batches, measured the same way."""
    from edgeunet.bench.config import BenchOutputs, bench_config
    from edgeunet.bench.run import bench_command

    wanted = {f.name for f in fields(BenchOutputs)}
    outputs = BenchOutputs(command="edgeunet " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                           **{name: options.pop(name) for name in list(options) if name in wanted})
    bench_command(bench_config(models, **options), outputs, echo=click.echo)
