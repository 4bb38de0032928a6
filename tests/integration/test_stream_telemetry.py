"""`edgeunet stream --stats` on a "Jetson": a recorded tegrastats on PATH, its samples and spike marks land in the JSON."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.unit.stream.test_tegrastats import JP5_ORIN


def test_stats_carry_tegrastats_samples(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tegrastats"  # replays a JetPack 5 Orin line five times a second (the real one: once per --interval)
    fake.write_text(f"#!/bin/sh\nwhile true; do echo '{JP5_ORIN}'; sleep 0.2; done\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    stats = tmp_path / "s.json"
    proc = subprocess.run([sys.executable, "-m", "edgeunet", "stream", str(tiny_onnx), str(synth_video), "--realtime", "--max-frames", "20",
                           "-o", "null", "--stats", str(stats)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    telemetry = json.loads(stats.read_text())["telemetry"]
    assert telemetry["available"] and telemetry["command"] == "tegrastats --interval 1000" and telemetry["samples"] >= 1
    first = telemetry["series"][0]
    assert first["gpu_mhz"] == 305 and first["temps_c"]["tj"] == 47.5 and first["power_mw"]["VDD_IN"] == 4350 and "t_s" in first
    assert telemetry["latency"] == "capture_to_display" and telemetry["spikes"]["median_ms"] > 0
    assert "tegrastats: " in proc.stdout and "with a GPU clock drop" in proc.stdout
