"""bench: statistics, decisions (--choose, --min-dice) and report writers, on hand-made reports (no model needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

from edgeunet.bench import run as bench
from edgeunet.core.errors import EdgeUnetError


def _row(backend: str, precision: str, fps: Optional[float], dice: Optional[float], status: str = "ok",
         reason: Optional[str] = None) -> Dict[str, Any]:
    row = bench.Row(model="m.pt", backend=backend, precision=precision, batch=1, size=[64, 64], status=status, reason=reason)
    if status == "ok":
        row.fps, row.dice, row.miou = fps, dice, dice
        row.latency_ms = {"mean": 1000 / fps, "p50": 1000 / fps, "p95": 1100 / fps, "p99": 1200 / fps} if fps else None
    return bench.asdict(row)


def _report(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"schema": bench.SCHEMA, "edgeunet_version": "0", "created": "now", "machine": {"host": "test"},
            "settings": {}, "timing_method": "t", "rows": rows}


REPORT = _report([
    _row("torch", "fp32", 10.0, 0.90),
    _row("onnxruntime", "fp32", 20.0, 0.90),
    _row("onnxruntime", "fp16", 19.0, 0.899),
    _row("onnxruntime", "int8", 30.0, 0.85),
    _row("tensorrt", "fp32", None, None, status="unavailable", reason="TensorRT not found: install it"),
])


def test_summarize_percentiles() -> None:
    stats = bench.summarize(list(range(1, 101)))
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["mean"] == pytest.approx(50.5)


def test_time_backend_counts_runs_after_warmup() -> None:
    calls: List[int] = []
    lat = bench.time_backend(lambda x: calls.append(1), np.zeros(1), warmup=3, iterations=5, duration=None)
    assert len(lat) == 5 and len(calls) == 8
    assert bench.time_backend(lambda x: None, np.zeros(1), warmup=0, iterations=None, duration=0.01)


def test_parse_options_reject_bad_values() -> None:
    assert bench.parse_list("fp32, int8", bench.PRECISIONS, "--precisions") == ["fp32", "int8"]
    assert bench.parse_ints("1,4", "--batch") == [1, 4]
    with pytest.raises(EdgeUnetError, match="--precisions"):
        bench.parse_list("fp8", bench.PRECISIONS, "--precisions")
    with pytest.raises(EdgeUnetError, match="--batch"):
        bench.parse_ints("0", "--batch")


def test_choose_fastest_within_drop_and_int8_note() -> None:
    rec = bench.choose(REPORT, max_drop=0.01)
    assert rec["recommended"]["backend"] == "onnxruntime" and rec["recommended"]["precision"] == "fp32"
    assert bench.choose(REPORT, max_drop=0.1)["recommended"]["precision"] == "int8"
    slow_int8 = _report([_row("onnxruntime", "fp32", 20.0, 0.9), _row("onnxruntime", "int8", 15.0, 0.9)])
    notes = bench.choose(slow_int8, 0.01)["notes"]
    assert notes and "INT8 (int8) is not faster than FP32" in notes[0]


def test_min_dice_fails_in_one_line() -> None:
    bench.check_min_dice(REPORT, 0.8)
    with pytest.raises(EdgeUnetError) as info:
        bench.check_min_dice(REPORT, 0.88)
    assert "\n" not in str(info.value) and "ORT-int8" in str(info.value)


def test_speedups_against_fp32_on_same_backend() -> None:
    rows = [bench.Row(**r) for r in REPORT["rows"]]
    bench.add_speedups(rows)
    assert rows[3].speedup_vs_fp32 == pytest.approx(1.5)
    assert rows[0].speedup_vs_fp32 == pytest.approx(1.0)
    assert rows[4].speedup_vs_fp32 is None


def test_unavailable_rows_are_kept_in_every_report(tmp_path: Path) -> None:
    bench.write_json(REPORT, tmp_path / "r.json")
    bench.write_csv(REPORT, tmp_path / "r.csv")
    bench.write_markdown(REPORT, tmp_path / "r.md", command="edgeunet bench m.pt")
    bench.write_plot(REPORT, tmp_path / "r.png")
    assert json.loads((tmp_path / "r.json").read_text())["rows"][4]["status"] == "unavailable"
    assert "unavailable" in (tmp_path / "r.csv").read_text()
    md = (tmp_path / "r.md").read_text()
    assert "unavailable: TensorRT not found" in md and "edgeunet bench m.pt" in md
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(os.listdir(tmp_path)) == ["r.csv", "r.json", "r.md", "r.png"]  # no temporary files left


def test_writers_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing leaves the old file untouched (write to a temp name, then rename)."""
    target = tmp_path / "r.png"
    target.write_bytes(b"old")

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", boom)
    with pytest.raises(RuntimeError):
        bench.write_plot(REPORT, target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["r.png"]


def test_bench_module_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, edgeunet.bench.run; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
