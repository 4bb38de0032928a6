"""`edgeunet stream` as a command: stop controls (SIGTERM, q + Enter), the summary, --stats, and exit codes.

Why apart from `Stream`: the API raises and returns a report; only the command prints, writes the
stats file and turns a lost source or a failed output into exit 4 (the cli module stays thin).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from edgeunet.core.atomic import STDOUT, atomic_write_text, check_replaceable, ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.stream.drawing import graph_draws_overlay
from edgeunet.stream.options import Log, StreamOptions
from edgeunet.stream.redact import redact_text
from edgeunet.stream.sinks import display_problem, listening_schemes
from edgeunet.stream.stream import Stream


def default_outputs(log: Log) -> List[str]:
    """A window when there is a screen; otherwise nothing is shown (said once), which keeps timing runs simple."""
    problem = display_problem()
    if problem is None:
        return ["display://"]
    log(f"no --output, and no window can be shown here ({problem.split(';')[0]}): frames are processed but not shown; "
        "add --output out.mp4 or web://127.0.0.1:8080")
    return ["null"]


@contextlib.contextmanager
def stop_controls(stream: Stream, log: Log) -> Iterator[None]:
    """SIGTERM (systemd, docker stop) and 'q' + Enter on a terminal end the run as cleanly as Ctrl-C does."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stream.stop("terminated (SIGTERM)"))
    if sys.stdin is not None and sys.stdin.isatty():
        def watch() -> None:
            for line in sys.stdin:
                if line.strip().lower() in ("q", "quit"):
                    stream.stop("stopped (q)")
                    return

        threading.Thread(target=watch, name="stream-keys", daemon=True).start()
        log("press Ctrl-C, or q and Enter, to stop")
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _web_options(targets: Sequence[str], token: Optional[str], max_clients: int, snapshot_dir: Optional[Path], echo: Log,
                 allowed_hosts: Sequence[str] = (), snapshot_quota: int = 256) -> Any:
    """WebOptions (token, viewer limit, Host names, quota) when a web://, mjpeg:// or rtsp:// output is asked for (aiohttp only then)."""
    if not any(str(t).strip().lower().startswith(tuple(f"{scheme}:" for scheme in listening_schemes())) for t in targets):
        if token is not None or snapshot_dir is not None:
            echo("note: --token and --snapshot-dir apply to web://, mjpeg:// and rtsp:// outputs only")
        return None
    from edgeunet.stream.web import WebOptions

    return WebOptions(token=token, max_clients=max_clients, snapshot_dir=Path(snapshot_dir or "snapshots"), log=echo,
                      allowed_hosts=tuple(allowed_hosts), snapshot_quota_mb=snapshot_quota).check()


def _check_stats_path(path: Path) -> None:
    """Before the run, not after it: a folder, a device or a symlink is refused; `-` is standard output."""
    if str(path) == STDOUT:
        return
    check_replaceable(path)
    if path.is_dir():
        raise EdgeUnetError(f"--stats {path}: is a folder; give a file name such as stats.json")
    ensure_writable_dir(path.parent if str(path.parent) else Path("."), "--stats folder")


def stream_command(model: Path, source: str, outputs: Sequence[str], stats_out: Optional[Path] = None, backend: str = "auto",
                   device: str = "auto", threads: Optional[int] = None, half: bool = False, ort_opt_level: str = "all",
                   echo: Log = print, token: Optional[str] = None, max_clients: int = 4, snapshot_dir: Optional[Path] = None,
                   allowed_hosts: Sequence[str] = (), snapshot_quota: int = 256, **options: Any) -> Dict[str, Any]:
    """`edgeunet stream`: run, print the summary table, write --stats, then turn a lost source or a failed output into exit 4."""
    if stats_out is not None:
        _check_stats_path(Path(stats_out))
    raw_echo, echo = echo, (lambda msg: raw_echo(redact_text(msg)))  # every line but the one-time token URL is redacted
    note: Log = lambda msg: echo(f"note: {msg}")  # noqa: E731
    opts = StreamOptions(**options).check()
    targets = list(outputs) or default_outputs(note)
    web = _web_options(targets, token, max_clients, snapshot_dir, raw_echo, allowed_hosts, snapshot_quota)
    with Stream(model, source, targets, opts, backend=backend, device=device, threads=threads, half=half,
                ort_opt_level=ort_opt_level, log=note, web=web) as stream:
        b = stream.backend
        codecs = stream.codecs()
        coding = f"; decode {codecs['decode']}" + "".join(f"; {name}: encode {how}" for name, how in codecs["encode"].items())
        coding += pixel_path(b.spec, opts)
        echo(f"{stream.source_spec.text} -> {', '.join(s.where or s.name for s in stream.sinks)}  ({b.name} {b.precision} on {b.device}){coding}")
        with stop_controls(stream, note):
            report = stream.run(raise_errors=False)
    error = stream.error
    if error is not None and not isinstance(error, EdgeUnetError):
        raise error
    stream.recorder.print(title=f"edgeunet stream: {Path(str(model)).name} on {report['source']} ({report['ended']})")
    telemetry = report.get("telemetry", {})
    if telemetry.get("available"):
        spikes = telemetry["spikes"]
        echo(f"tegrastats: {telemetry['samples']} sample(s); {spikes['count']} latency spike(s) above {spikes['factor']:g}x the median, "
             f"{spikes['with_gpu_clock_drop']} with a GPU clock drop (--stats has the series)")
    for out in report["outputs"]:
        if out["kind"] in ("video", "images") and out["frames"] and out["status"] == "ok":
            echo(f"wrote {out['where']} ({out['frames']} frames)")
    if stats_out is not None:
        atomic_write_text(stats_out, redact_text(json.dumps(report, indent=2)) + "\n")
        echo(f"wrote {stats_out}")
    _raise_problems(report, error)
    return report


def _raise_problems(report: Dict[str, Any], error: Optional[BaseException]) -> None:
    if error is not None:
        raise error
    failed = [o for o in report["outputs"] if o["status"] == "failed"]
    if failed:
        first = failed[0]
        kept = "what was written is kept and valid" if Path(str(first.get("where") or "")).exists() else "nothing was kept"
        raise EdgeUnetError(f"output {first['output']} failed after {first['frames']} frame(s): {first['error']}; {kept}", exit_code=4)
    if report["source_lost"]:
        raise EdgeUnetError(f"source {report['source']}: {report['ended']}; the summary and --stats above cover the frames "
                            "processed before", exit_code=4)


def pixel_path(spec: ModelSpec, opts: StreamOptions) -> str:
    """Which pixel steps an end-to-end model does itself, for the run's header (nothing for a logits model)."""
    if not spec.end_to_end:
        return ""
    if graph_draws_overlay(spec, opts.overlay, opts.alpha):
        return "; resize, mask and overlay inside the model"
    differs = opts.overlay == "alpha" and spec.overlay_alpha is not None
    return "; resize and mask inside the model, overlay on the CPU" + (f" (--alpha {opts.alpha:g}, the model's is {spec.overlay_alpha:g})" if differs else "")
