"""`edgeunet train`: every training option, a --config file under them, and --resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import click

from edgeunet.cli.options import DeviceGroup, MaskGroup, MaxDropGroup, PathArg, SplitGroup
from edgeunet.core.errors import EdgeUnetError

TRAIN_OPTION_NAMES = [
    "data", "val_data", "val_ratio", "seed", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "loss", "alpha",
    "width", "depth", "upsampling", "size", "classes", "class_names", "positive_value", "mask_map", "device", "amp", "out",
    "patience", "monitor", "scheduler", "workers", "augment", "snapshot_samples", "tensorboard", "augmentation",
    "resize", "crop", "ignore_index", "class_weights", "ema", "ema_decay", "split_by", "group_regex", "val_groups",
]


@click.command()
@click.option("--data", "data_dir", type=PathArg, help="Folder with images/ and masks/.")
@SplitGroup()
@click.option("--val-groups", default=None, help="Comma-separated sequences to validate on (else a seeded --val-ratio share of them).")
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
@click.option("--size", default="256", show_default=True, help="Model input: 256 (square) or HxW such as 352x480 (images are resized).")
@click.option("--resize", type=click.Choice(["stretch", "letterbox"]), default="stretch", show_default=True,
              help="letterbox keeps the aspect ratio and pads; recorded in the model, so inference repeats it.")
@click.option("--crop", default=None, help="Train on random crops (256 or HxW) of images at their own resolution; validate and infer on whole frames.")
@MaskGroup()
@click.option("--ignore-index", type=int, default=None,
              help="Class id of void pixels (CamVid: 11): no loss, no metric, never predicted; the model gets --classes - 1 outputs.")
@click.option("--class-weights", default=None, help="'auto' (median-frequency balancing of the training masks) or w0,w1,... one per real class.")
@click.option("--class-names", default=None, help="Comma-separated, background first.")
@DeviceGroup()
@click.option("--amp", is_flag=True,
              help="Mixed precision: fp16 on CUDA; bf16 + channels-last on a CPU with AVX512-BF16 or AMX (~2x faster); fp32 elsewhere, with a note.")
@click.option("--out", type=PathArg, default=Path("runs/train"), show_default=True, help="Run folder.")
@click.option("--patience", type=click.IntRange(min=0), default=15, show_default=True, help="Early stop after N epochs without improvement (0: off).")
@click.option("--monitor", type=click.Choice(["dice", "miou"]), default="dice", show_default=True)
@click.option("--scheduler", type=click.Choice(["cosine", "plateau", "none"]), default="cosine", show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Data-loader processes.")
@click.option("--augment/--no-augment", default=True, show_default=True)
@click.option("--snapshot-samples", type=click.IntRange(min=0), default=4, show_default=True)
@click.option("--tensorboard", is_flag=True, help="Also log to RUN/tensorboard.")
@click.option("--ema", is_flag=True, help="Keep an exponential moving average of the weights; validate and save it.")
@click.option("--ema-decay", type=float, default=0.999, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", type=PathArg, default=None, help="Continue the run in this folder (or its last.pt).")
@click.option("--qat", is_flag=True, help="Quantization-aware fine-tuning of --from (INT8 for TensorRT; needs the qat extra). "
                                            "Ends with RUN/best.int8.onnx, gated against the fp32 model.")
@click.option("--from", "from_checkpoint", type=PathArg, default=None, help="--qat: the trained fp32 checkpoint (RUN/best.pt) to fine-tune.")
@MaxDropGroup("--qat")
@click.option("--config", "config_file", type=PathArg, default=None, help="YAML/JSON file of these options.")
@click.pass_context
def train(
    ctx: click.Context, data_dir: Optional[Path], resume: Optional[Path], config_file: Optional[Path], class_names: Optional[str],
    qat: bool, from_checkpoint: Optional[Path], max_drop: float, **options: Any
) -> None:
    """Train a UNet; watch RUN/curves.png, RUN/snapshots/ and RUN/learning.gif.

    `--qat --from RUN/best.pt --epochs N` fine-tunes a trained model for INT8 (RUN-qat/ by default).
    """
    from edgeunet.core.atomic import fresh_output
    from edgeunet.train.config import TrainConfig, load_config_file
    from edgeunet.train.run import train as run_training

    if resume is not None:
        device = options["device"] if ctx.get_parameter_source("device") != click.core.ParameterSource.DEFAULT else None
        run_dir = run_training(TrainConfig(), resume=resume, device=device)
        click.echo(f"run finished: {run_dir}")
        if _is_qat_run(run_dir):
            _export_qat(run_dir, max_drop, None)
        return
    if qat or from_checkpoint is not None:
        _train_qat(ctx, qat, from_checkpoint, max_drop, {"data": data_dir, "config": config_file, "class_names": class_names, **options})
        return
    values: Dict[str, Any] = {"data": data_dir, "class_names": class_names.split(",") if class_names else None, **options}
    if config_file is not None:
        from_file = load_config_file(config_file, TRAIN_OPTION_NAMES)
        param_of = {"data": "data_dir"}
        for key, value in from_file.items():
            if ctx.get_parameter_source(param_of.get(key, key)) in (None, click.core.ParameterSource.DEFAULT):
                values[key] = value
    if isinstance(values.get("class_names"), str):  # a config file may give them as one comma-separated string
        values["class_names"] = [name.strip() for name in values["class_names"].split(",")]
    if not values.get("data"):
        raise EdgeUnetError("--data DIR is required (a folder with images/ and masks/), or --resume RUN")
    values = {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}
    if values.get("crop") is not None and ctx.get_parameter_source("size") not in (None, click.core.ParameterSource.DEFAULT):
        raise EdgeUnetError("--crop and --size exclude each other: a crop-trained model runs on whole frames at their own resolution")
    if str(values.get("size", "")).strip().isdigit():  # a square size stays a number in config.json
        values["size"] = int(str(values["size"]).strip())
    cfg = TrainConfig.from_dict(values)
    with fresh_output(cfg.out, keep="last.pt"):  # a full disk before the first epoch leaves no half-made run folder
        run_dir = run_training(cfg)
    click.echo(f"run finished: {run_dir}  (best.pt, last.pt, metrics.csv, curves.png, learning.gif)")


# Options a QAT run may change; everything that shapes the network or its input comes from the --from checkpoint.
QAT_OPTIONS = ("data", "val_data", "epochs", "lr", "batch_size", "device", "workers", "out", "optimizer", "weight_decay",
               "scheduler", "patience", "monitor", "snapshot_samples", "augment", "tensorboard", "seed", "loss", "alpha")


def _train_qat(ctx: click.Context, qat: bool, source: Optional[Path], max_drop: float, options: Dict[str, Any]) -> None:
    if not qat:
        raise EdgeUnetError("--from is the checkpoint --qat fine-tunes; add --qat (or use --resume RUN to continue a run)")
    if source is None:
        raise EdgeUnetError("--qat needs --from RUN/best.pt: the trained fp32 checkpoint to fine-tune for INT8")
    param_of = {"data": "data_dir", "config": "config_file"}
    given = [k for k in options if ctx.get_parameter_source(param_of.get(k, k)) not in (None, click.core.ParameterSource.DEFAULT)]
    if "config" in given:
        raise EdgeUnetError("--qat takes its settings from the --from run, not from --config; override single options instead")
    fixed = [k for k in given if k not in QAT_OPTIONS]
    if fixed:
        raise EdgeUnetError(f"--qat: --{fixed[0].replace('_', '-')} is fixed by the --from checkpoint; "
                            f"change only {', '.join('--' + k.replace('_', '-') for k in QAT_OPTIONS[:6])}, ...")
    overrides = {k: (str(options[k]) if isinstance(options[k], Path) else options[k]) for k in given}
    from edgeunet.train.qat import qat_config, require_modelopt
    from edgeunet.train.run import train as run_training

    cfg, payload = qat_config(source, overrides)  # a wrong --from is refused first
    require_modelopt()  # then a missing library, in one line, before anything is written
    click.echo(f"QAT: fine-tuning {source} for {cfg.epochs} epoch(s) at lr {cfg.lr:g} -> {cfg.out}")
    from edgeunet.core.atomic import fresh_output

    with fresh_output(cfg.out, keep="last.pt"):
        run_dir = run_training(cfg, source=payload)
    click.echo(f"run finished: {run_dir}")
    _export_qat(run_dir, max_drop, Path(cfg.val_data) if cfg.val_data else None)


def _is_qat_run(run_dir: Path) -> bool:
    import json

    config = run_dir / "config.json"
    return config.is_file() and bool(json.loads(config.read_text(encoding="utf-8")).get("qat_from"))


def _export_qat(run_dir: Path, max_drop: float, val_data: Optional[Path]) -> None:
    from edgeunet.export.qat_export import export_and_gate_qat

    result, gate = export_and_gate_qat(run_dir / "best.pt", max_drop=max_drop, val_data=val_data)
    click.echo(f"wrote {result.path} (int8 Q/DQ for TensorRT)")
    click.echo(result.parity.line())
    if gate is not None:
        click.echo(gate.line())
