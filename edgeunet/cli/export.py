"""`edgeunet export|calibrate|convert|inspect|build-engine`: from a checkpoint to ONNX variants and engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from edgeunet.cli.options import FloatLayersGroup, GateGroup, Int8ToolsGroup, PathArg, echo_gate
from edgeunet.core.errors import EdgeUnetError

GATE = GateGroup()
INT8_TOOLS = Int8ToolsGroup()
BUILD_FLOAT_LAYERS = FloatLayersGroup("--int8 --calib-data")


@click.command("export")
@click.argument("checkpoint", type=PathArg)
@click.option("--out", type=PathArg, default=None,
              help="Output .onnx. Default: CHECKPOINT with .onnx (runs/x/best.onnx); a QAT checkpoint: CHECKPOINT.int8.onnx.")
@click.option("--size", nargs=2, type=click.IntRange(min=16), default=None, metavar="H W", help="Static input size. Default: the training size.")
@click.option("--dynamic", is_flag=True, help="Symbolic batch, height and width (multiples of 16).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Static batch size.")
@click.option("--opset", type=click.IntRange(13, 21), default=17, show_default=True)
@click.option("--io", "io_mode", type=click.Choice(["float", "uint8"]), default="float", show_default=True,
              help="uint8: NHWC uint8 pixels in, uint8 class mask out (normalisation and decision inside the graph).")
@click.option("--parity-data", type=PathArg, default=None, help="Images for the parity check. Default: the training data.")
@click.option("--no-simplify", is_flag=True, help="Skip onnxslim.")
@click.option("--end-to-end", is_flag=True,
              help="The camera frame (uint8 NHWC BGR at --frame-size) in, the uint8 class mask at that size out; resize, "
                   "normalisation, bilinear upsampling of the logits and argmax run inside the graph (on the GPU with TensorRT). "
                   "CHECKPOINT may also be a float-I/O .onnx (fp32, fp16 or calibrated INT8).")
@click.option("--frame-size", default=None, metavar="HxW", help="--end-to-end: the frame's height x width, e.g. 1080x1920.")
@click.option("--overlay", is_flag=True, help="--end-to-end: a second output, the frame blended with the class colours.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.45, show_default=True, help="--overlay: the colours' weight.")
@click.option("--frame-dtype", type=click.Choice(["uint8", "float32"]), default="uint8", show_default=True,
              help="--end-to-end: float32 for TensorRT 8.5 (JetPack 5.1), whose ONNX parser has no UINT8 (INT32 mask out).")
def export_cmd(checkpoint: Path, out: Optional[Path], size: Optional[tuple], dynamic: bool, batch: int, opset: int, io_mode: str,
               parity_data: Optional[Path], no_simplify: bool, end_to_end: bool, frame_size: Optional[str], overlay: bool,
               alpha: float, frame_dtype: str) -> None:
    """Export a checkpoint to ONNX (checked, simplified, BatchNorm folded, metadata inside) and check parity vs torch.

    A QAT checkpoint (`edgeunet train --qat`) becomes an INT8 Q/DQ ONNX for TensorRT. --end-to-end wraps the network so
    that the graph takes camera frames and returns full-resolution masks (see README "End-to-end models").
    """
    from edgeunet.export.onnx_export import export_onnx

    e2e_flags = [name for name, given in (("--frame-size", frame_size), ("--overlay", overlay), ("--frame-dtype", frame_dtype != "uint8")) if given]
    if end_to_end or e2e_flags:
        if not end_to_end:
            raise EdgeUnetError(f"{e2e_flags[0]} is an --end-to-end option; add --end-to-end or drop it")
        _export_end_to_end(checkpoint, out, size, dynamic, batch, opset, io_mode, parity_data, no_simplify, frame_size, overlay, alpha, frame_dtype)
        return

    result = export_onnx(checkpoint, out, size=size or None, dynamic=dynamic, batch=batch,
                         opset=opset, io=io_mode, simplify=not no_simplify, parity_data=parity_data)
    shape = "dynamic" if dynamic else f"{batch}x{result.spec.input_size[0]}x{result.spec.input_size[1]}"
    click.echo(f"wrote {result.path} ({result.precision}, opset {result.opset}, io {io_mode}, {shape}, {sum(result.nodes.values())} nodes)")
    click.echo(result.parity.line())
    for note in result.notes:
        click.echo(f"note: {note}")


def _export_end_to_end(source: Path, out: Optional[Path], size: Optional[tuple], dynamic: bool, batch: int, opset: int, io_mode: str,
                       parity_data: Optional[Path], no_simplify: bool, frame_size: Optional[str], overlay: bool, alpha: float,
                       frame_dtype: str) -> None:
    from edgeunet.core.spec import parse_size
    from edgeunet.export.end_to_end import FrameOptions
    from edgeunet.export.end_to_end_export import export_end_to_end

    if frame_size is None:
        raise EdgeUnetError("--end-to-end needs --frame-size HxW: the camera's height x width (e.g. 1080x1920)")
    for flag, bad in (("--dynamic", dynamic), ("--batch", batch != 1), ("--io", io_mode != "float")):
        if bad:
            raise EdgeUnetError(f"{flag} does not apply to --end-to-end (one frame of a fixed size in, uint8 mask out); drop it")
    options = FrameOptions(parse_size(frame_size, "--frame-size"), frame_dtype, alpha if overlay else None)
    extra = {"opset": opset, "simplify": not no_simplify} if source.suffix.lower() != ".onnx" else {}
    result = export_end_to_end(source, out, options, size=size or None, parity_data=parity_data, **extra)
    height, width = options.frame_size
    outputs = "mask + overlay" if overlay else "mask"
    if result.network_note:
        click.echo(f"network: {result.network_note}")
    click.echo(f"wrote {result.path} (end-to-end, {frame_dtype} frame 1x{height}x{width}x3 BGR -> {outputs}, network "
               f"{result.spec.input_size[0]}x{result.spec.input_size[1]} {result.spec.resize}, {result.nodes} nodes)")
    click.echo(f"mask agreement with the CPU path on {result.frames} frame(s) from {result.frames_source}: {result.agreement:.4%}")


@click.command()
@click.argument("model", type=PathArg)
@click.option("--data", "data_dir", type=PathArg, required=True, help="Folder of calibration images (or DIR/images).")
@click.option("--out", type=PathArg, default=None, help="Output .onnx. Default: MODEL.int8.onnx next to MODEL.")
@click.option("--num-images", type=int, default=64, show_default=True)
@click.option("--method", type=click.Choice(["entropy", "minmax", "percentile"]), default="entropy", show_default=True)
@click.option("--percentile", type=float, default=99.99, show_default=True, help="--method percentile: the share of each activation histogram kept.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which images are sampled.")
@click.option("--target", type=click.Choice(["tensorrt", "cpu"]), default="tensorrt", show_default=True,
              help="tensorrt: symmetric Q/DQ that TensorRT accepts; cpu: QLinear ops with uint8 activations for ONNX Runtime on the CPU (TensorRT rejects it).")
@click.option("--manifest-dir", type=PathArg, default=Path("calibration"), show_default=True)
@click.option("--engine", type=click.Choice(["edgeunet", "modelopt"]), default="edgeunet", show_default=True,
              help="Who places the Q/DQ: edgeunet (ONNX Runtime's quantizer, our TensorRT rules) or modelopt (NVIDIA ModelOpt's ONNX PTQ, "
                   "a second opinion; needs the qat extra). Default out for modelopt: MODEL.int8-modelopt.onnx.")
@INT8_TOOLS
@GATE
def calibrate(model: Path, data_dir: Path, out: Optional[Path], **options: Any) -> None:
    """INT8: calibrate MODEL (fp32 ONNX) on real images into an INT8 ONNX for --target, then gate its accuracy."""
    from edgeunet.export.inspect import count_qdq
    from edgeunet.export.int8 import Int8Options, quantize_and_gate
    from edgeunet.export.quantize import default_output

    options.update(GATE.read(options).kwargs())
    options.update(INT8_TOOLS.read(options))
    engine = options["engine"]
    default = default_output(model, "int8" if engine == "edgeunet" else "int8-modelopt")
    calib, gate = quantize_and_gate(model, data_dir, out or default, Int8Options(**options), warn=lambda line: click.echo(line, err=True))
    kept = "ConvTranspose" if engine == "edgeunet" else "Conv/ConvTranspose"
    click.echo(f"wrote {calib.onnx_path} ({calib.quantized_nodes} tensors quantized, {count_qdq(calib.onnx_path).pairs} Q/DQ pairs, "
               f"{len(calib.float_nodes)} {kept} kept float, {calib.num_images} images, {calib.method}, target {calib.target}, engine {engine})")
    if calib.float_layers:
        click.echo(f"float layers ({len(calib.float_layers)}): {', '.join(calib.float_layers)}")
    click.echo(f"manifest {calib.manifest_path} (sha256 {calib.manifest_sha256[:16]})")
    for path in calib.reports:
        click.echo(f"wrote {path}")
    echo_gate(gate)


@click.command()
@click.argument("model", type=PathArg)
@click.option("--fp16", is_flag=True, help="fp16-typed graph (weights and activations), I/O types unchanged.")
@click.option("--out", type=PathArg, default=None, help="Output .onnx. Default: MODEL.fp16.onnx next to MODEL.")
@GATE
def convert(model: Path, fp16: bool, out: Optional[Path], **options: Any) -> None:
    """Convert an fp32 ONNX to another precision (--fp16), then gate its accuracy."""
    from edgeunet.export.fp16 import convert_and_gate
    from edgeunet.export.quantize import default_output

    if not fp16:
        raise EdgeUnetError("choose a conversion: --fp16 (for INT8 use `edgeunet calibrate`)")
    path, gate = convert_and_gate(model, out or default_output(model, "fp16"), **GATE.read(options).kwargs())
    click.echo(f"wrote {path}")
    echo_gate(gate)


@click.command("inspect")
@click.argument("model", type=PathArg)
@click.option("--json", "json_out", type=PathArg, default=None, help="Also write the report as JSON.")
@click.option("--strict", is_flag=True, help="Exit non-zero when TensorRT would reject the graph.")
@click.option("--trt", "trt_version", default=None, metavar="VERSION",
              help="Also check against this TensorRT version's ONNX parser (8.5, 8.6, 10.3, 11): ops, types, UINT8 casts, opset.")
def inspect_cmd(model: Path, json_out: Optional[Path], strict: bool, trt_version: Optional[str]) -> None:
    """Opset, I/O, metadata, quantized nodes (zero points, axes) and anything TensorRT would reject."""
    from edgeunet.core.atomic import atomic_write_text
    from edgeunet.export.inspect import inspect_json, inspect_onnx

    report = inspect_onnx(model, trt=trt_version)
    click.echo(report.to_text())
    if json_out is not None:
        atomic_write_text(json_out, inspect_json(report))
        click.echo(f"wrote {json_out}")
    if strict and report.all_problems:
        raise EdgeUnetError(f"{model}: TensorRT would reject it ({len(report.all_problems)} problem(s), listed above)")


@click.command("build-engine")
@click.argument("model", type=PathArg)
@click.option("--fp16", is_flag=True, help="FP16 engine (fp16 ONNX is made and gated; TensorRT <= 10 may use the FP16 flag).")
@click.option("--int8", is_flag=True, help="INT8 engine; from an fp32 ONNX this calibrates and gates first (needs --calib-data).")
@click.option("--calib-data", type=PathArg, default=None, help="Folder of calibration images (or DIR/images), for --int8.")
@click.option("--calibrator", type=click.Choice(["qdq", "entropy", "minmax"]), default="qdq", show_default=True,
              help="qdq: explicit Q/DQ made on the CPU and gated (all TensorRT versions); entropy/minmax: TensorRT's implicit "
                   "calibrators (8.5-10.x only; the DLA INT8 route on JetPack 5), cache under calibration/.")
@click.option("--num-images", type=click.IntRange(min=1), default=64, show_default=True, help="Calibration images used.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which calibration images are sampled.")
@click.option("--int8-only", is_flag=True, help="--int8 on TensorRT <= 10 without the FP16 flag beside it: layers outside Q/DQ pairs "
              "run in FP32 (default: FP16, as trtexec --int8 --fp16).")
@GATE
@click.option("--out", type=PathArg, default=None, help="Engine file (.engine or .plan). Default: MODEL.<precision>.engine.")
@click.option("--workspace", type=click.IntRange(min=1), default=None, help="Builder workspace limit in MiB (default: TensorRT's).")
@click.option("--shapes", default=None, metavar="MIN,OPT,MAX",
              help="Input shapes of the optimization profile, e.g. 1x1x256x256,4x1x256x256,8x1x256x256 (one shape = static).")
@click.option("--dla-core", type=click.IntRange(min=0), default=None, help="Run on this DLA core (Jetson Xavier/Orin), GPU fallback on.")
@click.option("--timing-cache", type=PathArg, default=None, help="Reuse and update this timing cache file (faster rebuilds).")
@click.option("--strongly-typed", is_flag=True, help="TensorRT 10: strongly typed network (precision from the ONNX). Always on in 11.")
@click.option("--verbose", is_flag=True, help="TensorRT's verbose build log.")
@BUILD_FLOAT_LAYERS
def build_engine_cmd(model: Path, **options: Any) -> None:
    """Build a TensorRT engine from MODEL (ONNX), after calibration and the accuracy gate; writes ENGINE and ENGINE.json."""
    from edgeunet.export.build_engine import BuildOptions, build_engine_command

    options["fallback"], options["keep_float"] = BUILD_FLOAT_LAYERS.read(options)
    build_engine_command(BuildOptions(onnx=model, **options), echo=click.echo)
