"""`edgeunet stream` as a verb: a short run into files with --stats, and click's one-line refusals.

The live paths (cameras, web://, rtsp://, Ctrl-C) are in tests/integration/test_stream_*.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.data.synth import make_video
from tests.unit.cli.invoke import cli, ok, one_line_error
from tests.unit.tiny_graphs import threshold_onnx


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("cli-stream") / "cells.avi", frames=6, width=64, height=48, fps=30.0)


def test_a_short_run_writes_the_outputs_and_stats(capsys: pytest.CaptureFixture[str], video: Path, tmp_path: Path) -> None:
    model = threshold_onnx(tmp_path / "m.onnx")
    out = ok(cli(capsys, "stream", model, video, "-o", tmp_path / "frames", "-o", "null", "--max-frames", "4", "--no-hud",
                 "--stats", tmp_path / "stats.json", "--device", "cpu"))
    assert "(onnxruntime fp32 on" in out and f"wrote {tmp_path / 'stats.json'}" in out
    assert len(list((tmp_path / "frames").iterdir())) == 4
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["frames"] == 4 and stats["backend"] == "onnxruntime" and [o["kind"] for o in stats["outputs"]][1] == "null"


@pytest.mark.parametrize(("args", "fragment"), [
    (["--overlay", "blur"], "--overlay"),
    (["--alpha", "1.5"], "--alpha"),
    (["--max-frames", "0"], "--max-frames"),
    (["--fps", "0"], "--fps"),
])
def test_option_refusals(capsys: pytest.CaptureFixture[str], video: Path, tmp_path: Path, args: list, fragment: str) -> None:
    one_line_error(cli(capsys, "stream", threshold_onnx(tmp_path / "m.onnx"), video, "-o", "null", *args), fragment)


def test_stats_into_a_folder_is_refused(capsys: pytest.CaptureFixture[str], video: Path, tmp_path: Path) -> None:
    one_line_error(cli(capsys, "stream", threshold_onnx(tmp_path / "m.onnx"), video, "-o", "null", "--stats", tmp_path),
                   "is a folder; edgeunet replaces only regular files")
