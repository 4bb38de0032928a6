"""A hand-made bench report (no model needed) shared by the decide, report and run tests."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Dict, List, Optional

from edgeunet.bench.config import Row
from edgeunet.bench.report import SCHEMA


def make_row(backend: str, precision: str, fps: Optional[float], dice: Optional[float], status: str = "ok",
             reason: Optional[str] = None) -> Dict[str, Any]:
    row = Row(model="m.pt", backend=backend, precision=precision, batch=1, size=[64, 64], status=status, reason=reason)
    if status == "ok":
        row.fps, row.dice, row.miou = fps, dice, dice
        row.latency_ms = {"mean": 1000 / fps, "p50": 1000 / fps, "p95": 1100 / fps, "p99": 1200 / fps} if fps else None
    return asdict(row)


def make_report(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"schema": SCHEMA, "edgeunet_version": "0", "created": "now", "machine": {"host": "test"},
            "settings": {}, "timing_method": "t", "rows": rows}


REPORT = make_report([
    make_row("torch", "fp32", 10.0, 0.90),
    make_row("onnxruntime", "fp32", 20.0, 0.90),
    make_row("onnxruntime", "fp16", 19.0, 0.899),
    make_row("onnxruntime", "int8", 30.0, 0.85),
    make_row("tensorrt", "fp32", None, None, status="unavailable", reason="TensorRT not found: install it"),
])
