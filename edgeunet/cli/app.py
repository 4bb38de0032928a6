"""The `edgeunet` command: the click group, one module per verb group, user errors in one line.

Each verb module declares its commands and imports the library lazily inside them, so `edgeunet --help`
stays fast and a verb that needs torch or TensorRT only loads them when it runs.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import List, Optional

import click

from edgeunet.cli import bench, data, demo, deploy, evaluate, export, stream, train
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.version import __version__
from edgeunet.stream.redact import redact_text

# OpenCV's own warnings (e.g. for a truncated PNG) would add a second line to our one-line errors.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
OS_ERROR_EXIT = 5  # the machine said no (disk full, permission, ...): distinct from a user mistake (2)


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


def one_line(message: object) -> str:
    """What the user sees of an error: one line, printable, every secret masked (edgeunet.stream.redact)."""
    text = " ".join(str(message).split())
    return redact_text("".join(ch if ch.isprintable() else "?" for ch in text))


def os_error_line(exc: OSError) -> str:
    """An OSError that escaped a command (disk full, permission, a vanished file) as one line naming the OS error."""
    name = errno.errorcode.get(exc.errno or 0, "")
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
    what = exc.strerror or str(exc) or exc.__class__.__name__
    hint = {errno.ENOSPC: "; free some space or write elsewhere", errno.EDQUOT: "; free some space or write elsewhere",
            errno.EACCES: "; choose a location you may write", errno.EROFS: "; choose a writable location"}.get(exc.errno or 0, "")
    return f"{what}{' (' + name + ')' if name else ''}{': ' + where if where else ''}{hint}"


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: user errors and OS errors become one line on stderr and a non-zero exit, never a traceback.

    Why one handler: a full disk or a permission problem can surface from any writer in any command; each
    command catching OSError on its own is a command that eventually forgets to.
    """
    try:
        cli.main(args=argv, prog_name="edgeunet", standalone_mode=False)
    except EdgeUnetError as exc:
        click.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {one_line(os_error_line(exc))}", err=True)
        sys.exit(OS_ERROR_EXIT)
