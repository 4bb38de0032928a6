"""`edgeunet data check|preview|synth`: look at a dataset before training on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from edgeunet.cli.options import MaskGroup, PathArg, SplitGroup
from edgeunet.core.errors import EdgeUnetError

MASKS = MaskGroup()
SPLIT = SplitGroup()


@click.group()
def data() -> None:
    """Check, preview and synthesise datasets (DIR/images + DIR/masks, matched by file name)."""


@data.command("check")
@click.argument("root", type=PathArg)
@MASKS
@SPLIT
@click.option("--seed", type=int, default=0, show_default=True, help="As for train: which images or sequences validate.")
def data_check(root: Path, seed: int, **options: Any) -> None:
    """Counts, sizes, mask values, class balance, every problem found in ROOT, and how train would validate on it.

    The validation part names the frame sequences found, the split train would make, and near-duplicate images
    across its training and validation sides (with the leak a random split would have, when sequences exist).
    """
    from edgeunet.data.dataset import check_dataset
    from edgeunet.data.leakage import split_check_lines

    classes, values = MASKS.read(options)
    report = check_dataset(root, values, classes)
    total = sum(report.class_pixels.values()) or 1
    click.echo(f"{report.root}: {report.images} images, {report.masks} masks")
    click.echo("sizes: " + ", ".join(f"{k} x{v}" for k, v in sorted(report.sizes.items())))
    click.echo("channels: " + ", ".join(f"{k}-channel x{v}" for k, v in sorted(report.channels.items())))
    click.echo("mask values: " + ", ".join(f"{k} ({v / total:.1%})" for k, v in sorted(report.mask_values.items())))
    click.echo("classes: " + ", ".join(f"{k}: {v / total:.1%}" for k, v in sorted(report.class_pixels.items())))
    for line in split_check_lines(root, seed=seed, **SPLIT.pop(options)):
        click.echo(line)
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
@MASKS
def data_preview(root: Path, out: Path, augment: bool, count: int, **options: Any) -> None:
    """Write a picture of samples with their masks, to look at before you train."""
    from edgeunet.data.preview import preview_dataset

    classes, values = MASKS.read(options)
    shown = preview_dataset(root, values, classes, out, count=count, augment=augment)
    click.echo(f"wrote {out} ({shown} samples)")


@data.command("synth")
@click.option("--out", type=PathArg, required=True, help="New folder for images/ and masks/.")
@click.option("--count", type=click.IntRange(min=2), default=48, show_default=True)
@click.option("--size", type=click.IntRange(min=32), default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--video", type=PathArg, default=None, help="Also write a synthetic .avi here.")
def data_synth(out: Path, count: int, size: int, seed: int, video: Optional[Path]) -> None:
    """Generate a synthetic cell-like dataset (mask 255 = cell)."""
    from edgeunet.data.synth import make_dataset, make_video

    make_dataset(out, count=count, size=size, seed=seed)
    click.echo(f"wrote {count} image/mask pairs to {out}")
    if video is not None:
        make_video(video)
        click.echo(f"wrote {video}")
