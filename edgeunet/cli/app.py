"""The `edgeunet` command: the click group, one module per verb group, user errors in one line.

Each verb module declares its commands and imports the library lazily inside them, so `edgeunet --help`
stays fast and a verb that needs torch or TensorRT only loads them when it runs.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import click

from edgeunet.cli import bench, data, demo, deploy, evaluate, export, stream, train
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.version import __version__

# OpenCV's own warnings (e.g. for a truncated PNG) would add a second line to our one-line errors.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="edgeunet")
def cli() -> None:
    """Train a UNet on your images, export it, build edge engines, and watch it segment live."""


for command in (
    data.data, train.train, evaluate.evaluate, export.export_cmd, export.calibrate, export.convert, export.inspect_cmd,
    evaluate.infer, export.build_engine_cmd, bench.bench_cmd, deploy.export_triton_cmd, deploy.export_deepstream_cmd,
    deploy.doctor, stream.stream_cmd, demo.demo,
):
    cli.add_command(command)


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
