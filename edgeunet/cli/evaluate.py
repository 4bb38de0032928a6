"""`edgeunet evaluate|infer`: run a model file (.pt, .onnx, .engine) over labelled or unlabelled images."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from edgeunet.cli.options import PathArg, RuntimeOptions, frame_size_options, runtime_options

WIDE_TABLE_CLASSES = 4  # up to this many classes, per-class IoU fits in the one summary row


@click.command()
@click.argument("model", type=PathArg)
@click.option("--data", "data_dir", type=PathArg, required=True, help="Folder with images/ and masks/.")
@click.option("--json", "json_out", type=PathArg, default=None, help="Also write the metrics as JSON.")
@click.option("--save-predictions", type=PathArg, default=None, help="New folder for predicted masks and overlays.")
@click.option("--confusion", "confusion_png", type=PathArg, default=None, help="Also draw the confusion matrix (row-normalised) to this .png.")
@frame_size_options
@runtime_options()
def evaluate(
    model: Path, data_dir: Path, json_out: Optional[Path], save_predictions: Optional[Path], confusion_png: Optional[Path], **options: Any
) -> None:
    """Pixel accuracy, IoU per class, mIoU and Dice of MODEL on a labelled folder."""
    from edgeunet.core.atomic import write_json
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.core.metrics import format_row, per_class_rows
    from edgeunet.core.tables import print_table
    from edgeunet.evaluate.evaluate import evaluate as run_evaluation

    if confusion_png is not None and confusion_png.suffix.lower() != ".png":  # before the (long) evaluation
        raise EdgeUnetError(f"--confusion {confusion_png}: give a .png file name")
    runtime = RuntimeOptions.pop(options)
    frame = {"size": options.pop("frame_size"), "tile": options.pop("tile"), "overlap": options.pop("overlap"),
             "upsample": options.pop("upsample")}
    result = run_evaluation(model, data_dir, save_predictions=save_predictions, **frame, **runtime.load_backend_kwargs())
    title = f"{data_dir} ({result['images']} images)"
    if len(result["iou"]) <= WIDE_TABLE_CLASSES:
        print_table([format_row(model.name, result, result["class_names"])], title=title)
    else:  # many classes: a summary row, then one row per class
        summary = {k: v for k, v in format_row(model.name, result).items() if not k.startswith("IoU ")}
        print_table([summary], title=title)
        print_table(per_class_rows(result, result["class_names"]), title="per class (void pixels not counted)")
    if json_out is not None:
        write_json(json_out, result, sort_keys=True)
        click.echo(f"wrote {json_out}")
    if confusion_png is not None:
        import numpy as np

        from edgeunet.evaluate.confusion import write_confusion_png

        write_confusion_png(confusion_png, np.asarray(result["confusion"]), result["class_names"], f"{model.name} on {data_dir.name}")
        click.echo(f"wrote {confusion_png}")


@click.command()
@click.argument("model", type=PathArg)
@click.argument("inputs", type=PathArg, nargs=-1, required=True)
@click.option("--out", type=PathArg, required=True, help="New folder for masks/, overlays/ and areas.json.")
@frame_size_options
@runtime_options()
@click.option("--no-overlays", is_flag=True)
def infer(model: Path, inputs: tuple, out: Path, no_overlays: bool, **options: Any) -> None:
    """Segment image files or folders: class-id mask PNGs, overlays and per-image class areas (JSON)."""
    from edgeunet.evaluate.infer import infer as run_infer

    runtime = RuntimeOptions.pop(options)
    frame = {"size": options.pop("frame_size"), "tile": options.pop("tile"), "overlap": options.pop("overlap"),
             "upsample": options.pop("upsample")}
    result = run_infer(model, list(inputs), out, overlays=not no_overlays, **frame, **runtime.load_backend_kwargs())
    click.echo(f"wrote {result.images} mask(s) to {result.out} ({result.backend}, {result.precision}); class areas in {result.out / 'areas.json'}")
