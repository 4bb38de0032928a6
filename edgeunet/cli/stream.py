"""`edgeunet stream`: a live source through the model into sinks, with per-stage latency."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import click

from edgeunet.cli.options import PathArg, RuntimeGroup, UpsampleGroup

RUNTIME = RuntimeGroup()


@click.command("stream")
@click.argument("model", type=PathArg)
@click.argument("source")
@click.option("--output", "-o", "outputs", multiple=True, metavar="SINK",
              help="Repeatable: out.mp4 / out.avi, frames/ (a folder), display://, web://HOST:PORT (live page, default 127.0.0.1:8080), "
                   "mjpeg://HOST:PORT (default 127.0.0.1:8090), rtsp://HOST:PORT/PATH (H.264 over RTSP, default 127.0.0.1:8554/edgeunet; "
                   "needs GStreamer: pip install 'edgeunet[rtsp]'), null. "
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
@click.option("--token", envvar="EDGEUNET_TOKEN", default=None, metavar="TOKEN",
              help="web:// / mjpeg://: required as ?token= or 'Authorization: Bearer'; rtsp://: the password of user edgeunet. "
                   "Needed beyond loopback (made and printed once when not given). Prefer EDGEUNET_TOKEN or --token-file: "
                   "a value typed here is visible to every local user in the process list.")
@click.option("--token-file", type=PathArg, default=None, metavar="PATH",
              help="Read the token from PATH (mode 600); when PATH does not exist, a token is made and kept there once.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="web:// / mjpeg://: a name besides the bound address that browsers may use (Host header), e.g. jetson.lan. "
                   "Any other name is refused (DNS rebinding).")
@click.option("--snapshot-quota", type=click.IntRange(min=1), default=256, show_default=True, metavar="MIB",
              help="web://: the page's snapshot button stops when --snapshot-dir holds this many MiB of snapshots.")
@click.option("--max-clients", type=click.IntRange(min=1), default=4, show_default=True,
              help="web:// / mjpeg:// / rtsp://: concurrent viewers of the video; the rest are refused.")
@click.option("--snapshot-dir", type=PathArg, default=None, help="web://: where the page's snapshot button saves frame + mask "
              "(default ./snapshots).")
@click.option("--stage-nice", type=click.IntRange(0, 19), default=None,
              help="Linux: run every stage but inference this much nicer, so decode/overlay/encode do not stall the model's threads "
                   "(default: 5 for a live source or --realtime, else 0).")
@click.option("--pin-stages/--no-pin-stages", default=None,
              help="Linux: inference on every core but the last, decode/overlay/encode on the last, so they never preempt it "
                   "(default: on for a live source or --realtime with 2+ cores).")
@UpsampleGroup()
@RUNTIME
@click.option("--fp16", "half", is_flag=True, help="Run a .pt checkpoint in half precision (torch backend on CUDA).")
def stream_cmd(model: Path, source: str, outputs: tuple, stats_out: Optional[Path], **options: Any) -> None:
    """Segment a live SOURCE into sinks with per-stage latency: file, folder/glob, 0, v4l2:///dev/video0, csi://0, rtsp://, http://, gst:...

    A SOURCE with a password can stay off the command line: env:NAME reads it from an environment variable,
    @PATH from the first line of a file.
    """
    from edgeunet.stream.access import source_from, token_from_file
    from edgeunet.stream.command import stream_command

    runtime = RUNTIME.read(options)
    token_file = options.pop("token_file")
    if token_file is not None:
        if options.get("token"):
            raise click.UsageError("--token and --token-file exclude each other (EDGEUNET_TOKEN counts as --token)")
        options["token"] = token_from_file(token_file, lambda msg: click.echo(f"note: {msg}"))
    stream_command(model, source_from(source), list(outputs), stats_out=stats_out, echo=click.echo, **asdict(runtime), **options)
