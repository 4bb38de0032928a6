"""`edgeunet export-triton|export-deepstream|doctor`: hand a model to a server, or check the machine it runs on."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from edgeunet.cli.options import PathArg
from edgeunet.core.version import __version__


@click.command("export-triton")
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
    from edgeunet.deploy.triton import export_triton, summary

    result = export_triton(model, repo, name=name, max_batch=max_batch, instances=instances, dynamic_batching=dynamic_batching,
                           max_queue_delay_us=max_queue_delay_us)
    for line in summary(result):
        click.echo(line)


@click.command("export-deepstream")
@click.argument("model", type=PathArg)
@click.option("--out", type=PathArg, required=True, help="New (or empty) folder for the nvinfer config, model and app config.")
@click.option("--fp16", is_flag=True, help="network-mode=2: let nvinfer build an FP16 engine (precision otherwise from the ONNX).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="nvinfer batch-size. Default: the ONNX batch, or 1 if dynamic.")
@click.option("--source", "source_uri", default=None, help="URI for the sample deepstream-app config (default: DeepStream's sample_720p.mp4).")
def export_deepstream_cmd(model: Path, out: Path, fp16: bool, batch_size: Optional[int], source_uri: Optional[str]) -> None:
    """DeepStream nvinfer segmentation config (network-type 2) + labels + model + a sample deepstream-app config."""
    from edgeunet.deploy.deepstream import DEFAULT_SOURCE, export_deepstream, summary

    result = export_deepstream(model, out, fp16=fp16, batch_size=batch_size, source_uri=source_uri or DEFAULT_SOURCE)
    for line in summary(result):
        click.echo(line)


@click.command()
@click.option("--selftest", is_flag=True, help="Build a tiny TensorRT engine, run it, compare with ONNX Runtime CPU: PASS/FAIL.")
def doctor(selftest: bool) -> None:
    """Python, OS, JetPack, GPU, CUDA, TensorRT, pycuda, ONNX Runtime, OpenCV (GStreamer/FFMPEG/V4L2), torch: found or not, and how to fix."""
    from edgeunet.deploy.doctor import report_lines, run_checks, run_selftest

    click.echo(f"edgeunet {__version__} doctor")
    for line in report_lines(run_checks()):
        click.echo(line)
    if selftest:
        run_selftest(echo=click.echo)
