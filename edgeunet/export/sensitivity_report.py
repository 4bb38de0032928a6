"""The layer-sensitivity report: a Markdown table (worst layer first) and a bar chart PNG next to it.

Why a file and not only console output: the table is what a reviewer reads to decide which layers to keep in float
(`--keep-float`), and what the CamVid benchmark attaches. matplotlib is an optional dependency (the [train] extra):
without it the table is still written and says that the chart was skipped. Both files are written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

from edgeunet.core.atomic import atomic_path, atomic_write_text
from edgeunet.export.sensitivity import SensitivityResult


def chart_path(report: Path) -> Path:
    """report.md -> report.png (next to it, same stem)."""
    return Path(report).with_suffix(".png")


def _fmt(value: Optional[float], digits: int = 4, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def markdown(result: SensitivityResult, model: str, source: str, chart_note: str, float_layers: Optional[List[str]] = None) -> str:
    from edgeunet.core.cpu import cpu_line

    label = "Dice" if result.metric == "dice" else "mIoU"
    alone = any(layer.metric_alone is not None for layer in result.layers)
    lines = [
        f"# Layer sensitivity: {model}",
        "",
        f"{label} fp32 {result.reference:.4f}, all layers INT8 {result.quantized:.4f} (drop {result.reference - result.quantized:+.4f}), "
        f"on {result.images} validation image(s) from {source} (at most 32 are used: this ranks layers; the gate decides on all).",
        f"ONNX Runtime on the CPU ({cpu_line()}). 'float alone': only this layer left in float, all others INT8; 'recovered': the part of "
        "the INT8 drop that this layer's float copy wins back. SQNR: this layer's output in the all-INT8 graph against the "
        "float graph (dB, higher is better).",
        "",
    ]
    header = ["rank", "layer", "op", f"{label} float alone", "drop vs fp32", "recovered", "SQNR dB"]
    if alone:
        header += [f"{label} INT8 alone", "drop (INT8 alone)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rank, layer in enumerate(result.layers, 1):
        row = [str(rank), f"`{layer.name}`", layer.op, _fmt(layer.metric_float), _fmt(layer.drop_float, sign=True),
               _fmt(layer.recovered, sign=True), _fmt(layer.sqnr_db, 1)]
        if alone:
            row += [_fmt(layer.metric_alone), _fmt(layer.drop_alone, sign=True)]
        lines.append("| " + " | ".join(row) + " |")
    if float_layers:
        lines += ["", f"Left in float by the fallback: {', '.join(f'`{n}`' for n in float_layers)}."]
    lines += ["", chart_note, ""]
    return "\n".join(lines)


def _chart(result: SensitivityResult, path: Path) -> str:
    """Horizontal bars of 'recovered' per layer and SQNR beside them; returns the note for the Markdown."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "Chart skipped: matplotlib is not installed (pip install 'edgeunet[train]')."
    names = [layer.name for layer in result.layers][::-1]
    height = max(2.5, 0.28 * len(names) + 1.2)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, height), sharey=True, gridspec_kw={"width_ratios": [2, 1]})
    ax1.barh(names, [layer.recovered for layer in result.layers][::-1], color="#d9534f")
    ax1.set_xlabel(f"{'Dice' if result.metric == 'dice' else 'mIoU'} recovered when left in float")
    ax1.tick_params(axis="y", labelsize=7)
    sqnr = [layer.sqnr_db if math.isfinite(layer.sqnr_db) else 0.0 for layer in result.layers][::-1]
    ax2.barh(names, sqnr, color="#5b8def")
    ax2.set_xlabel("output SQNR (dB)")
    fig.suptitle("INT8 layer sensitivity (worst at the top)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")  # long node names stay readable
    plt.close(fig)
    return f"Chart: ![sensitivity]({path.name})"


def write_report(result: SensitivityResult, report: Path, model: str, source: str, float_layers: Optional[List[str]] = None) -> List[Path]:
    """report (Markdown) + chart_path(report) (PNG, when matplotlib is installed); returns the files written."""
    report = Path(report)
    png = chart_path(report)
    note = _chart(result, png)
    atomic_write_text(report, markdown(result, model, source, note, float_layers))
    return [report, png] if png.exists() and note.startswith("Chart:") else [report]
