"""The `edgeunet` command: parse options, call one function per verb, report user errors in one line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import click

from edgeunet import __version__
from edgeunet.errors import EdgeUnetError

# OpenCV's own warnings (e.g. for a truncated PNG) would add a second line to our one-line errors.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

PathArg = click.Path(path_type=Path)


def _mask_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """How mask pixel values become classes (shared by train and the data commands)."""
    func = click.option("--mask-map", default=None, help="Explicit pixel value:class id pairs, e.g. '0:1,255:0'.")(func)
    func = click.option(
        "--positive-value", type=click.IntRange(0, 255), default=None,
        help="Binary masks: the pixel value of the positive class (ISBI membranes: 0). Default 255.",
    )(func)
    func = click.option("--classes", type=click.IntRange(min=2), default=2, show_default=True, help="Number of classes, background included.")(func)
    return func


def _mask_values(classes: int, positive_value: Optional[int], mask_map: Optional[str]) -> List[List[int]]:
    from edgeunet.data import default_mask_values, parse_mask_map

    return parse_mask_map(mask_map) if mask_map else default_mask_values(classes, positive_value)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="edgeunet")
def cli() -> None:
    """Train a UNet on your images, export it, build edge engines, and watch it segment live."""


# -- data -------------------------------------------------------------------------------------
@cli.group()
def data() -> None:
    """Check, preview and synthesise datasets (DIR/images + DIR/masks, matched by file name)."""


@data.command("check")
@click.argument("root", type=PathArg)
@_mask_options
def data_check(root: Path, classes: int, positive_value: Optional[int], mask_map: Optional[str]) -> None:
    """Counts, sizes, mask values, class balance and every problem found in ROOT."""
    from edgeunet.data import check_dataset

    report = check_dataset(root, _mask_values(classes, positive_value, mask_map), classes)
    total = sum(report.class_pixels.values()) or 1
    click.echo(f"{report.root}: {report.images} images, {report.masks} masks")
    click.echo("sizes: " + ", ".join(f"{k} x{v}" for k, v in sorted(report.sizes.items())))
    click.echo("channels: " + ", ".join(f"{k}-channel x{v}" for k, v in sorted(report.channels.items())))
    click.echo("mask values: " + ", ".join(f"{k} ({v / total:.1%})" for k, v in sorted(report.mask_values.items())))
    click.echo("classes: " + ", ".join(f"{k}: {v / total:.1%}" for k, v in sorted(report.class_pixels.items())))
    if report.problems:
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        raise EdgeUnetError(f"{root}: {len(report.problems)} problem(s) found (listed above)")
    click.echo("no problems found")


@data.command("preview")
@click.argument("root", type=PathArg)
@click.option("--out", type=PathArg, default=Path("preview.png"), show_default=True)
@click.option("--augment", is_flag=True, help="Add three augmented versions of each sample.")
@click.option("--count", type=click.IntRange(min=1), default=6, show_default=True)
@_mask_options
def data_preview(root: Path, out: Path, augment: bool, count: int, classes: int, positive_value: Optional[int], mask_map: Optional[str]) -> None:
    """Write a picture of samples with their masks, to look at before you train."""
    from edgeunet.visualize import preview_dataset

    shown = preview_dataset(root, _mask_values(classes, positive_value, mask_map), classes, out, count=count, augment=augment)
    click.echo(f"wrote {out} ({shown} samples)")


@data.command("synth")
@click.option("--out", type=PathArg, required=True, help="New folder for images/ and masks/.")
@click.option("--count", type=click.IntRange(min=2), default=48, show_default=True)
@click.option("--size", type=click.IntRange(min=32), default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--video", type=PathArg, default=None, help="Also write a synthetic .avi here.")
def data_synth(out: Path, count: int, size: int, seed: int, video: Optional[Path]) -> None:
    """Generate a synthetic cell-like dataset (mask 255 = cell)."""
    from edgeunet.synth import make_dataset, make_video

    make_dataset(out, count=count, size=size, seed=seed)
    click.echo(f"wrote {count} image/mask pairs to {out}")
    if video is not None:
        make_video(video)
        click.echo(f"wrote {video}")


# -- train ------------------------------------------------------------------------------------
TRAIN_OPTION_NAMES = [
    "data", "val_data", "val_ratio", "seed", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "loss", "alpha",
    "width", "depth", "upsampling", "size", "classes", "class_names", "positive_value", "mask_map", "device", "amp", "out",
    "patience", "monitor", "scheduler", "workers", "augment", "snapshot_samples", "tensorboard", "augmentation",
]


@cli.command()
@click.option("--data", "data_dir", type=PathArg, help="Folder with images/ and masks/.")
@click.option("--val-data", type=PathArg, default=None, help="Separate validation folder (else split --data).")
@click.option("--val-ratio", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--optimizer", type=click.Choice(["adam", "adamw", "sgd"]), default="adamw", show_default=True)
@click.option("--weight-decay", type=click.FloatRange(min=0), default=1e-4, show_default=True)
@click.option("--loss", type=click.Choice(["ce", "dice", "focal", "dice_ce"]), default="dice_ce", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="dice_ce = alpha*Dice + (1-alpha)*CE.")
@click.option("--width", type=click.IntRange(min=4), default=32, show_default=True, help="Base width: 64 is the paper, 16/32 the edge presets.")
@click.option("--depth", type=click.IntRange(1, 6), default=4, show_default=True)
@click.option("--upsampling", type=click.Choice(["transpose", "bilinear"]), default="transpose", show_default=True)
@click.option("--size", type=click.IntRange(min=16), default=256, show_default=True, help="Model input side (images are resized).")
@_mask_options
@click.option("--class-names", default=None, help="Comma-separated, background first.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--amp", is_flag=True, help="Mixed precision (CUDA).")
@click.option("--out", type=PathArg, default=Path("runs/train"), show_default=True, help="Run folder.")
@click.option("--patience", type=click.IntRange(min=0), default=15, show_default=True, help="Early stop after N epochs without improvement (0: off).")
@click.option("--monitor", type=click.Choice(["dice", "miou"]), default="dice", show_default=True)
@click.option("--scheduler", type=click.Choice(["cosine", "plateau", "none"]), default="cosine", show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Data-loader processes.")
@click.option("--augment/--no-augment", default=True, show_default=True)
@click.option("--snapshot-samples", type=click.IntRange(min=0), default=4, show_default=True)
@click.option("--tensorboard", is_flag=True, help="Also log to RUN/tensorboard.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", type=PathArg, default=None, help="Continue the run in this folder (or its last.pt).")
@click.option("--config", "config_file", type=PathArg, default=None, help="YAML/JSON file of these options.")
@click.pass_context
def train(
    ctx: click.Context, data_dir: Optional[Path], resume: Optional[Path], config_file: Optional[Path], class_names: Optional[str], **options: Any
) -> None:
    """Train a UNet; watch RUN/curves.png, RUN/snapshots/ and RUN/learning.gif."""
    from edgeunet.config import TrainConfig, load_config_file
    from edgeunet.train import train as run_training

    if resume is not None:
        device = options["device"] if ctx.get_parameter_source("device") != click.core.ParameterSource.DEFAULT else None
        run_dir = run_training(TrainConfig(), resume=resume, device=device)
        click.echo(f"run finished: {run_dir}")
        return
    values: Dict[str, Any] = {"data": data_dir, "class_names": class_names.split(",") if class_names else None, **options}
    if config_file is not None:
        from_file = load_config_file(config_file, TRAIN_OPTION_NAMES)
        param_of = {"data": "data_dir"}
        for key, value in from_file.items():
            if ctx.get_parameter_source(param_of.get(key, key)) in (None, click.core.ParameterSource.DEFAULT):
                values[key] = value
    if not values.get("data"):
        raise EdgeUnetError("--data DIR is required (a folder with images/ and masks/), or --resume RUN")
    values = {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}
    run_dir = run_training(TrainConfig.from_dict(values))
    click.echo(f"run finished: {run_dir}  (best.pt, last.pt, metrics.csv, curves.png, learning.gif)")


# -- evaluate ---------------------------------------------------------------------------------
@cli.command()
@click.argument("model", type=PathArg)
@click.option("--data", "data_dir", type=PathArg, required=True, help="Folder with images/ and masks/.")
@click.option("--json", "json_out", type=PathArg, default=None, help="Also write the metrics as JSON.")
@click.option("--save-predictions", type=PathArg, default=None, help="New folder for predicted masks and overlays.")
@click.option("--backend", default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True)
def evaluate(model: Path, data_dir: Path, json_out: Optional[Path], save_predictions: Optional[Path], backend: str, device: str) -> None:
    """Pixel accuracy, IoU per class, mIoU and Dice of MODEL on a labelled folder."""
    from edgeunet.evaluate import evaluate as run_evaluation
    from edgeunet.evaluate import write_json
    from edgeunet.metrics import format_row
    from edgeunet.tables import print_table

    result = run_evaluation(model, data_dir, backend=backend, device=device, save_predictions=save_predictions)
    print_table([format_row(model.name, result, result["class_names"])], title=f"{data_dir} ({result['images']} images)")
    if json_out is not None:
        write_json(result, json_out)
        click.echo(f"wrote {json_out}")


# -- demo -------------------------------------------------------------------------------------
@cli.command()
@click.option("--out", type=PathArg, default=Path("runs/demo"), show_default=True, help="A new folder (demo2, demo3... if taken).")
@click.option("--epochs", type=click.IntRange(min=1), default=15, show_default=True)
def demo(out: Path, epochs: int) -> None:
    """The whole chain on built-in synthetic data: synth -> train -> evaluate -> pictures."""
    from edgeunet.demo import run_demo

    run_demo(out, epochs=epochs)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit, never a traceback."""
    try:
        cli.main(args=argv, prog_name="edgeunet", standalone_mode=False)
    except EdgeUnetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
