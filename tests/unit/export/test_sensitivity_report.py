"""The sensitivity report (issue 14 item 3): Markdown table worst first, PNG beside it, and the table alone without matplotlib."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from edgeunet.export.sensitivity import LayerSensitivity, SensitivityResult
from edgeunet.export.sensitivity_report import chart_path, write_report


def _result() -> SensitivityResult:
    layers = [
        LayerSensitivity("/a/Conv", "Conv", 0.70, 0.05, 0.10, 6.0, metric_alone=0.74, drop_alone=0.01),
        LayerSensitivity("/b/Concat", "Concat", 0.61, 0.14, 0.01, float("inf")),
    ]
    return SensitivityResult(metric="miou", reference=0.75, quantized=0.60, images=32, layers=layers)


def test_table_and_chart(tmp_path: Path) -> None:
    report = tmp_path / "deep" / "sens.md"
    written = write_report(_result(), report, "m.int8.onnx", "val", float_layers=["/a/Conv"])
    assert written == [report, chart_path(report)] and chart_path(report).read_bytes()[:4] == b"\x89PNG"
    text = report.read_text()
    assert "| rank | layer | op | mIoU float alone | drop vs fp32 | recovered | SQNR dB | mIoU INT8 alone | drop (INT8 alone) |" in text
    assert text.index("`/a/Conv`") < text.index("`/b/Concat`") and "| inf |" in text
    assert "at most 32 are used" in text and "Left in float by the fallback: `/a/Conv`" in text and "![sensitivity](sens.png)" in text
    assert not [p for p in report.parent.iterdir() if p.name.startswith(".")]


def test_without_matplotlib_the_table_says_the_chart_was_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    report = tmp_path / "sens.md"
    assert write_report(_result(), report, "m.int8.onnx", "val") == [report]
    assert "Chart skipped: matplotlib is not installed" in report.read_text() and not chart_path(report).exists()
