"""stream/command.py: `edgeunet stream` as a command: default outputs, stop controls, --stats, the summary and exit 4."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.synth import make_video
from edgeunet.stream import command
from tests.unit.tiny_graphs import threshold_onnx

FAST = {"hud": False, "warmup": 0, "pin_stages": False}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("stream-command") / "cells.avi", frames=5, width=48, height=32, fps=30.0)


class Stops:
    def __init__(self) -> None:
        self.reasons: List[str] = []

    def stop(self, reason: str = "stopped") -> None:
        self.reasons.append(reason)


def test_default_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    log: List[str] = []
    monkeypatch.setattr(command, "display_problem", lambda: None)
    assert command.default_outputs(log.append) == ["display://"] and log == []
    monkeypatch.setattr(command, "display_problem", lambda: "no screen here (DISPLAY is not set); use --output")
    assert command.default_outputs(log.append) == ["null"]
    assert log == ["no --output, and no window can be shown here (no screen here (DISPLAY is not set)): frames are processed "
                   "but not shown; add --output out.mp4 or web://127.0.0.1:8080"]


def test_sigterm_stops_the_run_and_the_handler_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)  # no terminal (a service): only the signal
    stream, before = Stops(), signal.getsignal(signal.SIGTERM)
    with command.stop_controls(stream, print):  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs in the main thread at the next bytecode
    assert stream.reasons == ["terminated (SIGTERM)"] and signal.getsignal(signal.SIGTERM) is before


def test_no_signal_handler_off_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)
    errors: List[BaseException] = []

    def worker() -> None:
        try:
            with command.stop_controls(Stops(), print):  # type: ignore[arg-type]
                pass  # signal.signal would raise ValueError here
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert not errors


def test_q_and_enter_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty("x\n  Q \nq\n"))
    stream, log = Stops(), []  # type: ignore[var-annotated]
    with command.stop_controls(stream, log.append):  # type: ignore[arg-type]
        for _ in range(100):
            if stream.reasons:
                break
            time.sleep(0.01)
    assert stream.reasons == ["stopped (q)"] and log == ["press Ctrl-C, or q and Enter, to stop"]


def test_web_options_only_for_listening_outputs(tmp_path: Path) -> None:
    notes: List[str] = []
    assert command._web_options(["out.mp4"], "secret-token-123", 4, None, notes.append) is None
    assert notes == ["note: --token and --snapshot-dir apply to web://, mjpeg:// and rtsp:// outputs only"]
    assert command._web_options(["null"], None, 4, None, notes.append) is None and len(notes) == 1
    web = command._web_options(["WEB://127.0.0.1:0"], None, 2, tmp_path / "snaps", notes.append, allowed_hosts=["cam.local"])
    assert web is not None and web.max_clients == 2 and web.snapshot_dir == tmp_path / "snaps" and web.allowed_hosts == ("cam.local",)


def test_stats_path_checked_before_the_run(tmp_path: Path) -> None:
    command._check_stats_path(Path("-"))
    command._check_stats_path(tmp_path / "new.json")
    with pytest.raises(EdgeUnetError, match="is a folder"):
        command._check_stats_path(tmp_path)
    (tmp_path / "link.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(EdgeUnetError, match="is a symbolic link"):
        command._check_stats_path(tmp_path / "link.json")


def test_a_run_prints_the_header_and_writes_stats(video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines: List[str] = []
    stats = tmp_path / "stats.json"
    report = command.stream_command(threshold_onnx(tmp_path / "m.onnx"), str(video), [str(tmp_path / "frames"), "null"], stats_out=stats,
                                    device="cpu", echo=lines.append, max_frames=3, **FAST)
    assert report["frames"] == 3 and json.loads(stats.read_text())["frames"] == 3
    assert lines[0].startswith(f"{video} -> {tmp_path / 'frames'}, null  (onnxruntime fp32 on ") and "; decode " in lines[0]
    assert f"wrote {tmp_path / 'frames'} (3 frames)" in lines and lines[-1] == f"wrote {stats}"
    assert "edgeunet stream: m.onnx on" in capsys.readouterr().out  # the summary table


def test_a_stage_error_that_is_not_a_user_error_is_raised(video: Path, tmp_path: Path) -> None:
    class Broken:
        name, precision, device = "fake", "fp32", "cpu"
        spec = ModelSpec(in_channels=1, num_classes=2, input_size=[16, 16])

        def run(self, batch: np.ndarray) -> np.ndarray:
            raise ZeroDivisionError("inside the model")

    stats = tmp_path / "stats.json"
    with pytest.raises(ZeroDivisionError):
        command.stream_command(Broken(), str(video), ["null"], stats_out=stats, echo=lambda _m: None, **FAST)  # type: ignore[arg-type]
    assert not stats.exists()  # no stats for a crashed run


def _report(outputs: Optional[List[Dict[str, Any]]] = None, lost: bool = False) -> Dict[str, Any]:
    return {"outputs": outputs or [], "source_lost": lost, "source": "rtsp://cam/x", "ended": "source lost (no frames after 3 reconnect attempt(s))"}


def test_problems_are_exit_4(tmp_path: Path) -> None:
    command._raise_problems(_report([{"output": "null", "status": "ok"}]), None)
    kept = tmp_path / "out.mp4"
    kept.write_bytes(b"x")
    failed = {"output": "out.mp4", "status": "failed", "frames": 7, "error": "disk full", "where": str(kept)}
    with pytest.raises(EdgeUnetError, match=r"^output out.mp4 failed after 7 frame\(s\): disk full; what was written is kept and valid$") as caught:
        command._raise_problems(_report([failed]), None)
    assert caught.value.exit_code == 4
    with pytest.raises(EdgeUnetError, match="nothing was kept$"):
        command._raise_problems(_report([{**failed, "where": str(tmp_path / "gone.mp4")}]), None)
    with pytest.raises(EdgeUnetError, match=r"^source rtsp://cam/x: source lost .*processed before$") as caught:
        command._raise_problems(_report(lost=True), None)
    assert caught.value.exit_code == 4
    with pytest.raises(EdgeUnetError, match="^camera unplugged$"):
        command._raise_problems(_report(lost=True), EdgeUnetError("camera unplugged"))  # the stream's own error comes first


def test_the_header_says_which_pixel_steps_the_model_does() -> None:
    from edgeunet.core.spec import ModelSpec
    from edgeunet.stream.command import pixel_path
    from edgeunet.stream.options import StreamOptions

    e2e = ModelSpec(in_channels=3, num_classes=2, input_size=[16, 16], io="end-to-end", frame_size=[24, 32], overlay_alpha=0.45)
    assert pixel_path(ModelSpec(), StreamOptions()) == ""
    assert pixel_path(e2e, StreamOptions(alpha=0.45)) == "; resize, mask and overlay inside the model"
    assert pixel_path(e2e, StreamOptions(alpha=0.6)) == "; resize and mask inside the model, overlay on the CPU (--alpha 0.6, the model's is 0.45)"
    assert pixel_path(e2e, StreamOptions(overlay="contour")) == "; resize and mask inside the model, overlay on the CPU"
    mask_only = ModelSpec(in_channels=3, num_classes=2, input_size=[16, 16], io="end-to-end", frame_size=[24, 32])
    assert pixel_path(mask_only, StreamOptions()) == "; resize and mask inside the model, overlay on the CPU"
