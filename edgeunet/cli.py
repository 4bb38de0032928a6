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


# -- export / calibrate / inspect / infer ------------------------------------------------------
def _gate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The accuracy gate shared by calibrate and convert (build-engine takes the same flags)."""
    func = click.option("--no-gate", is_flag=True, help="Skip the accuracy gate (not recommended).")(func)
    func = click.option("--max-drop", type=float, default=0.01, show_default=True,
                        help="Largest Dice drop vs the fp32 model that is accepted.")(func)
    func = click.option("--val-data", type=PathArg, default=None,
                        help="Labelled folder (images/ + masks/) for the gate. Default: the model's own validation split.")(func)
    return func


def _echo_gate(gate: Any) -> None:
    if gate is not None:
        click.echo(gate.line())


@cli.command("export")
@click.argument("checkpoint", type=PathArg)
@click.option("--out", type=PathArg, default=None, help="Output .onnx. Default: CHECKPOINT with .onnx (runs/x/best.onnx).")
@click.option("--size", nargs=2, type=click.IntRange(min=16), default=None, metavar="H W", help="Static input size. Default: the training size.")
@click.option("--dynamic", is_flag=True, help="Symbolic batch, height and width (multiples of 16).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Static batch size.")
@click.option("--opset", type=click.IntRange(13, 21), default=17, show_default=True)
@click.option("--io", "io_mode", type=click.Choice(["float", "uint8"]), default="float", show_default=True,
              help="uint8: NHWC uint8 pixels in, uint8 class mask out (normalisation and decision inside the graph).")
@click.option("--parity-data", type=PathArg, default=None, help="Images for the parity check. Default: the training data.")
@click.option("--no-simplify", is_flag=True, help="Skip onnxslim.")
def export_cmd(checkpoint: Path, out: Optional[Path], size: Optional[tuple], dynamic: bool, batch: int, opset: int, io_mode: str,
               parity_data: Optional[Path], no_simplify: bool) -> None:
    """Export a checkpoint to ONNX (checked, simplified, BatchNorm folded, metadata inside) and check parity vs torch."""
    from edgeunet.export import export_onnx

    result = export_onnx(checkpoint, out or checkpoint.with_suffix(".onnx"), size=size or None, dynamic=dynamic, batch=batch,
                         opset=opset, io=io_mode, simplify=not no_simplify, parity_data=parity_data)
    shape = "dynamic" if dynamic else f"{batch}x{result.spec.input_size[0]}x{result.spec.input_size[1]}"
    click.echo(f"wrote {result.path} (opset {result.opset}, io {io_mode}, {shape}, {sum(result.nodes.values())} nodes)")
    click.echo(result.parity.line())
    for note in result.notes:
        click.echo(f"note: {note}")


@cli.command()
@click.argument("model", type=PathArg)
@click.option("--data", "data_dir", type=PathArg, required=True, help="Folder of calibration images (or DIR/images).")
@click.option("--out", type=PathArg, default=None, help="Output .onnx. Default: MODEL.int8.onnx next to MODEL.")
@click.option("--num-images", type=int, default=64, show_default=True)
@click.option("--method", type=click.Choice(["entropy", "minmax", "percentile"]), default="entropy", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Which images are sampled.")
@click.option("--target", type=click.Choice(["tensorrt", "cpu"]), default="tensorrt", show_default=True,
              help="tensorrt: symmetric Q/DQ that TensorRT accepts; cpu: QLinear ops with uint8 activations for ONNX Runtime on the CPU (TensorRT rejects it).")
@click.option("--manifest-dir", type=PathArg, default=Path("calibration"), show_default=True)
@_gate_options
def calibrate(model: Path, data_dir: Path, out: Optional[Path], num_images: int, method: str, seed: int, target: str,
              manifest_dir: Path, val_data: Optional[Path], max_drop: float, no_gate: bool) -> None:
    """INT8: calibrate MODEL (fp32 ONNX) on real images into an INT8 ONNX for --target, then gate its accuracy."""
    from edgeunet.quantize import default_output, quantize_and_gate

    calib, gate = quantize_and_gate(model, data_dir, out or default_output(model, "int8"), val_data=val_data, max_drop=max_drop,
                                    num_images=num_images, method=method, seed=seed, target=target, manifest_dir=manifest_dir,
                                    gate=not no_gate)
    click.echo(f"wrote {calib.onnx_path} ({calib.quantized_nodes} tensors quantized, {len(calib.float_nodes)} ConvTranspose kept float, "
               f"{calib.num_images} images, {calib.method}, target {calib.target})")
    click.echo(f"manifest {calib.manifest_path} (sha256 {calib.manifest_sha256[:16]})")
    _echo_gate(gate)


@cli.command()
@click.argument("model", type=PathArg)
@click.option("--fp16", is_flag=True, help="fp16-typed graph (weights and activations), I/O types unchanged.")
@click.option("--out", type=PathArg, default=None, help="Output .onnx. Default: MODEL.fp16.onnx next to MODEL.")
@_gate_options
def convert(model: Path, fp16: bool, out: Optional[Path], val_data: Optional[Path], max_drop: float, no_gate: bool) -> None:
    """Convert an fp32 ONNX to another precision (--fp16), then gate its accuracy."""
    from edgeunet.quantize import convert_and_gate, default_output

    if not fp16:
        raise EdgeUnetError("choose a conversion: --fp16 (for INT8 use `edgeunet calibrate`)")
    path, gate = convert_and_gate(model, out or default_output(model, "fp16"), val_data=val_data, max_drop=max_drop, gate=not no_gate)
    click.echo(f"wrote {path}")
    _echo_gate(gate)


@cli.command("inspect")
@click.argument("model", type=PathArg)
@click.option("--json", "json_out", type=PathArg, default=None, help="Also write the report as JSON.")
@click.option("--strict", is_flag=True, help="Exit non-zero when TensorRT would reject the graph.")
def inspect_cmd(model: Path, json_out: Optional[Path], strict: bool) -> None:
    """Opset, I/O, metadata, quantized nodes (zero points, axes) and anything TensorRT would reject."""
    from edgeunet.atomic import atomic_write_text
    from edgeunet.onnx_inspect import inspect_json, inspect_onnx

    report = inspect_onnx(model)
    click.echo(report.to_text())
    if json_out is not None:
        atomic_write_text(json_out, inspect_json(report))
        click.echo(f"wrote {json_out}")
    if strict and report.problems:
        raise EdgeUnetError(f"{model}: TensorRT would reject it ({len(report.problems)} problem(s), listed above)")


@cli.command()
@click.argument("model", type=PathArg)
@click.argument("inputs", type=PathArg, nargs=-1, required=True)
@click.option("--out", type=PathArg, required=True, help="New folder for masks/, overlays/ and areas.json.")
@click.option("--backend", default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=None, help="ONNX Runtime intra-op threads (default: all cores).")
@click.option("--no-overlays", is_flag=True)
def infer(model: Path, inputs: tuple, out: Path, backend: str, device: str, threads: Optional[int], no_overlays: bool) -> None:
    """Segment image files or folders: class-id mask PNGs, overlays and per-image class areas (JSON)."""
    from edgeunet.infer import infer as run_infer

    options = {} if threads is None else {"threads": threads}
    result = run_infer(model, list(inputs), out, backend=backend, device=device, overlays=not no_overlays, **options)
    click.echo(f"wrote {result.images} mask(s) to {result.out} ({result.backend}, {result.precision}); class areas in {result.out / 'areas.json'}")


# -- build-engine -----------------------------------------------------------------------------
@cli.command("build-engine")
@click.argument("model", type=PathArg)
@click.option("--fp16", is_flag=True, help="FP16 engine (fp16 ONNX is made and gated; TensorRT <= 10 may use the FP16 flag).")
@click.option("--int8", is_flag=True, help="INT8 engine; from an fp32 ONNX this calibrates and gates first (needs --calib-data).")
@click.option("--calib-data", type=PathArg, default=None, help="Folder of calibration images (or DIR/images), for --int8.")
@click.option("--calibrator", type=click.Choice(["qdq", "entropy", "minmax"]), default="qdq", show_default=True,
              help="qdq: explicit Q/DQ made on the CPU and gated (all TensorRT versions); entropy/minmax: TensorRT's implicit "
                   "calibrators (8.5-10.x only; the DLA INT8 route on JetPack 5), cache under calibration/.")
@click.option("--num-images", type=click.IntRange(min=1), default=64, show_default=True, help="Calibration images used.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which calibration images are sampled.")
@click.option("--val-data", type=PathArg, default=None,
              help="Labelled folder (images/ + masks/) for the accuracy gate. Default: the model's own validation split.")
@click.option("--max-drop", type=float, default=0.01, show_default=True, help="Largest Dice drop vs the fp32 model that is accepted.")
@click.option("--out", type=PathArg, default=None, help="Engine file (.engine or .plan). Default: MODEL.<precision>.engine.")
@click.option("--workspace", type=click.IntRange(min=1), default=None, help="Builder workspace limit in MiB (default: TensorRT's).")
@click.option("--shapes", default=None, metavar="MIN,OPT,MAX",
              help="Input shapes of the optimization profile, e.g. 1x1x256x256,4x1x256x256,8x1x256x256 (one shape = static).")
@click.option("--dla-core", type=click.IntRange(min=0), default=None, help="Run on this DLA core (Jetson Xavier/Orin), GPU fallback on.")
@click.option("--timing-cache", type=PathArg, default=None, help="Reuse and update this timing cache file (faster rebuilds).")
@click.option("--strongly-typed", is_flag=True, help="TensorRT 10: strongly typed network (precision from the ONNX). Always on in 11.")
@click.option("--verbose", is_flag=True, help="TensorRT's verbose build log.")
def build_engine_cmd(model: Path, **options: Any) -> None:
    """Build a TensorRT engine from MODEL (ONNX), after calibration and the accuracy gate; writes ENGINE and ENGINE.json."""
    from edgeunet.engine import BuildOptions, build_engine_command

    build_engine_command(BuildOptions(onnx=model, **options), echo=click.echo)


# -- bench ------------------------------------------------------------------------------------
@cli.command("bench")
@click.argument("models", type=PathArg, nargs=-1, required=True)
@click.option("--precisions", default="fp32,fp16,int8,int8-cpu", show_default=True,
              help="Comma-separated: fp32, fp16, int8 (TensorRT-valid Q/DQ), int8-cpu (calibrate --target cpu).")
@click.option("--backends", default="auto", show_default=True, help="auto, or comma-separated: torch, onnxruntime, tensorrt.")
@click.option("--data", type=PathArg, default=None, help="Labelled folder (images/ + masks/): Dice and mIoU per row.")
@click.option("--calib-data", type=PathArg, default=None, help="INT8 calibration images (default: --data, else the training data).")
@click.option("--video", type=PathArg, default=None, help="Also measure end-to-end pipeline FPS over this video.")
@click.option("--batch", default="1", show_default=True, help="Comma-separated batch sizes, e.g. 1,4.")
@click.option("--size", default=None, help="Comma-separated square input sizes, e.g. 256,512 (default: the model's).")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True, help="Untimed runs before timing.")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Timed runs per row (default 100).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds of timed runs per row (instead of --iterations).")
@click.option("--threads", type=click.IntRange(min=0), default=None, help="Intra-op threads for ONNX Runtime and torch (default: theirs).")
@click.option("--ort-opt-level", type=click.Choice(["disable", "basic", "extended", "all"]), default="all", show_default=True,
              help="ONNX Runtime graph optimisation ('all' includes the NCHWc/NHWC layout transforms).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N].")
@click.option("--cache", type=PathArg, default=None, help="Folder for derived variants (default: bench-cache/ next to MODEL).")
@click.option("--calib-images", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--eval-images", type=click.IntRange(min=1), default=None, help="Score only the first N images of --data.")
@click.option("--val-split", is_flag=True, help="Score on each model's own validation split (as trained), not all of --data.")
@click.option("--json", "json_out", type=PathArg, default=None)
@click.option("--csv", "csv_out", type=PathArg, default=None)
@click.option("--md", "md_out", type=PathArg, default=None)
@click.option("--plot", type=PathArg, default=None, help="Bar chart PNG of FPS per variant, annotated with Dice.")
@click.option("--min-dice", type=float, default=None, help="Fail (exit 4) when any measured row has a lower Dice.")
@click.option("--choose", "choose_best", is_flag=True, help="Write recommended.json: the fastest variant within --max-drop.")
@click.option("--max-drop", type=click.FloatRange(min=0), default=0.01, show_default=True, help="Largest Dice drop vs fp32 for --choose.")
@click.option("--recommend-out", type=PathArg, default=None, help="Where --choose writes (default: recommended.json next to --json, else ./).")
def bench_cmd(models: List[Path], **options: Any) -> None:
    """Speed and accuracy of MODEL across backends x precisions x batches, measured the same way."""
    import shlex

    from edgeunet.bench import bench_command

    command = "edgeunet " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    bench_command(models, command=command, echo=click.echo, **options)


# -- deploy: export-triton / export-deepstream / doctor ----------------------------------------
@cli.command("export-triton")
@click.argument("model", type=PathArg)
@click.option("--repo", type=PathArg, required=True, help="New (or empty) folder for the Triton model repository.")
@click.option("--name", default=None, help="Model name in the repository. Default: MODEL's file stem.")
@click.option("--max-batch", type=click.IntRange(min=0), default=None,
              help="Triton max_batch_size. Default: 8 for a --dynamic export (capped by an engine's profile), 0 for a fixed batch.")
@click.option("--instances", type=click.IntRange(min=1), default=1, show_default=True, help="Model instances (instance_group count).")
@click.option("--dynamic-batching", is_flag=True, help="Let Triton batch concurrent requests (needs --max-batch > 0).")
@click.option("--max-queue-delay", "max_queue_delay_us", type=click.IntRange(min=0), default=None,
              help="Dynamic batching: microseconds a request may wait for others.")
def export_triton_cmd(model: Path, repo: Path, name: Optional[str], max_batch: Optional[int], instances: int, dynamic_batching: bool,
                      max_queue_delay_us: Optional[int]) -> None:
    """Triton model repository from MODEL (.onnx -> onnxruntime_onnx, .engine/.plan -> tensorrt_plan) with a matching config.pbtxt."""
    from edgeunet.triton import export_triton, summary

    result = export_triton(model, repo, name=name, max_batch=max_batch, instances=instances, dynamic_batching=dynamic_batching,
                           max_queue_delay_us=max_queue_delay_us)
    for line in summary(result):
        click.echo(line)


@cli.command("export-deepstream")
@click.argument("model", type=PathArg)
@click.option("--out", type=PathArg, required=True, help="New (or empty) folder for the nvinfer config, model and app config.")
@click.option("--fp16", is_flag=True, help="network-mode=2: let nvinfer build an FP16 engine (precision otherwise from the ONNX).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="nvinfer batch-size. Default: the ONNX batch, or 1 if dynamic.")
@click.option("--source", "source_uri", default=None, help="URI for the sample deepstream-app config (default: DeepStream's sample_720p.mp4).")
def export_deepstream_cmd(model: Path, out: Path, fp16: bool, batch_size: Optional[int], source_uri: Optional[str]) -> None:
    """DeepStream nvinfer segmentation config (network-type 2) + labels + model + a sample deepstream-app config."""
    from edgeunet.deepstream import DEFAULT_SOURCE, export_deepstream, summary

    result = export_deepstream(model, out, fp16=fp16, batch_size=batch_size, source_uri=source_uri or DEFAULT_SOURCE)
    for line in summary(result):
        click.echo(line)


@cli.command()
@click.option("--selftest", is_flag=True, help="Build a tiny TensorRT engine, run it, compare with ONNX Runtime CPU: PASS/FAIL.")
def doctor(selftest: bool) -> None:
    """Python, OS, JetPack, GPU, CUDA, TensorRT, pycuda, ONNX Runtime, OpenCV (GStreamer/FFMPEG/V4L2), torch: found or not, and how to fix."""
    from edgeunet.doctor import report_lines, run_checks, run_selftest

    click.echo(f"edgeunet {__version__} doctor")
    for line in report_lines(run_checks()):
        click.echo(line)
    if selftest:
        run_selftest(echo=click.echo)


# -- stream -----------------------------------------------------------------------------------
@cli.command("stream")
@click.argument("model", type=PathArg)
@click.argument("source")
@click.option("--output", "-o", "outputs", multiple=True, metavar="SINK",
              help="Repeatable: out.mp4 / out.avi, frames/ (a folder), display://, mjpeg://HOST:PORT (default 127.0.0.1:8090), null. "
                   "Default: a window when there is a screen, else null.")
@click.option("--overlay", type=click.Choice(["alpha", "mask", "side", "contour"]), default="alpha", show_default=True,
              help="alpha: blended colours; mask: colour mask only; side: frame | mask; contour: class outlines.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.45, show_default=True, help="Opacity of the class colours.")
@click.option("--hud/--no-hud", default=True, show_default=True, help="Draw FPS and ms on the frames.")
@click.option("--stats", "stats_out", type=PathArg, default=None, help="Write the latency summary (every stage, p50/p95/p99) as JSON.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after N processed frames.")
@click.option("--realtime", is_flag=True, help="Pace a file like a camera (its FPS, or --fps): newest frame only, drops counted.")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Pacing rate for --realtime and the frame rate of video outputs (default: the source's).")
@click.option("--loop", is_flag=True, help="Start a file or image folder again at its end.")
@click.option("--reconnect", type=click.IntRange(min=0), default=3, show_default=True,
              help="A live source that drops is reopened up to N times (back-off 0.5 s doubling to 8 s), then the run ends.")
@click.option("--backend", default="auto", show_default=True, help="auto (by file type), onnxruntime, tensorrt or torch.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N].")
@click.option("--threads", type=click.IntRange(min=0), default=None, help="ONNX Runtime intra-op threads (default: all cores).")
@click.option("--fp16", "half", is_flag=True, help="Run a .pt checkpoint in half precision (torch backend on CUDA).")
@click.option("--ort-opt-level", type=click.Choice(["disable", "basic", "extended", "all"]), default="all", show_default=True,
              help="ONNX Runtime graph optimisation, as in bench.")
def stream_cmd(model: Path, source: str, outputs: tuple, stats_out: Optional[Path], **options: Any) -> None:
    """Segment a live SOURCE into sinks with per-stage latency: file, folder/glob, 0, v4l2:///dev/video0, csi://0, rtsp://, http://, gst:..."""
    from edgeunet.stream import stream_command

    stream_command(model, source, list(outputs), stats_out=stats_out, echo=click.echo, **options)


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
