"""The bench report on screen and on disk: rich table, JSON, CSV, Markdown and a bar chart, each written atomically.

JSON schema ("edgeunet-bench/1"): see README "Benchmarks"; the rows are `config.Row` as dicts. Unavailable rows are
kept in every format with their reason, so a table never silently loses a backend.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from edgeunet.bench.config import Row
from edgeunet.core import atomic
from edgeunet.core.atomic import atomic_path, atomic_write_text
from edgeunet.core.errors import EdgeUnetError

SCHEMA = "edgeunet-bench/1"


def _f(value: Optional[float], fmt: str = "{:.2f}") -> str:
    return "" if value is None else fmt.format(value)


def table_rows(report: Dict[str, Any]) -> List[Dict[str, str]]:
    out = []
    for r in report["rows"]:
        lat = r.get("latency_ms") or {}
        ok = r["status"] == "ok"
        out.append({
            "backend": r["backend"], "precision": r["precision"], "batch": str(r["batch"]), "size": f"{r['size'][0]}x{r['size'][1]}",
            "device": _short_device(r.get("device") or ""), "MB": _f(r.get("file_mb")),
            "Q/DQ": "" if r.get("qdq_pairs") is None else str(r["qdq_pairs"]),
            "float layers": str(len(r["float_layers"])) if r.get("float_layers") else "", "Dice": _f(r.get("dice"), "{:.4f}"),
            "mIoU": _f(r.get("miou"), "{:.4f}"), "mean ms": _f(lat.get("mean")), "p50 ms": _f(lat.get("p50")),
            "p95 ms": _f(lat.get("p95")), "p99 ms": _f(lat.get("p99")), "FPS": _f(r.get("fps"), "{:.1f}"),
            "x fp32": _f(r.get("speedup_vs_fp32"), "{:.2f}x"), "pipe FPS": _f(r.get("pipeline_fps"), "{:.1f}"),
            "peak RSS MB": _f(r.get("peak_rss_mb"), "{:.0f}"),
            "H2D/compute/D2H ms": "/".join(f"{(r.get('trt_phases_ms') or {}).get(k, 0):.2f}" for k in ("h2d", "compute", "d2h"))
            if r.get("trt_phases_ms") else "",
            "status": "ok" if ok else f"unavailable: {r.get('reason')}",
        })
    return out


def cost_rows(report: Dict[str, Any]) -> List[Dict[str, str]]:
    """The speed cost of each float layer of --fallback (run.float_layer_costs), one table row per layer."""
    out = []
    for c in report.get("float_layer_costs") or []:
        ok = c.get("status") == "ok" and c.get("cost_ms") is not None
        out.append({
            "backend": c["backend"], "size": f"{c['size'][0]}x{c['size'][1]}", "float layer": c.get("layer") or "",
            "p50 ms": _f(c.get("p50_ms")), "all-INT8 p50 ms": _f(c.get("int8_p50_ms")),
            "cost ms": _f(c.get("cost_ms"), "{:+.2f}"), "cost %": _f(c.get("cost_pct"), "{:+.1f}%"),
            "status": "ok" if ok else f"unavailable: {c.get('reason')}",
        })
    return out


COST_NOTE = ("Cost of each float layer: the all-INT8 Q/DQ graph with only that layer left in float (no Q/DQ on it), "
             "minus the all-INT8 graph, p50 at batch 1, timed back to back; the last row leaves every float layer of "
             "--fallback in float at once. Single costs do not add up exactly (backends fuse neighbouring layers), and a CPU "
             "figure says nothing of a TensorRT engine: measure on the device.")


def _short_device(device: str) -> str:
    return device.replace("ExecutionProvider", " EP")


def _footnoted(rows: List[Dict[str, str]]) -> Tuple[List[Dict[str, str]], List[str]]:
    """Long 'unavailable: reason' cells become 'unavailable [n]' with the reason printed once under the table."""
    reasons: List[str] = []
    out = []
    for row in rows:
        status = row["status"]
        if status.startswith("unavailable: "):
            if status not in reasons:
                reasons.append(status)
            status = f"unavailable [{reasons.index(status) + 1}]"
        out.append({**row, "status": status})
    return out, [f"[{i + 1}] {text}" for i, text in enumerate(reasons)]


def _columns(rows: List[Dict[str, str]]) -> List[str]:
    """Drop columns empty in every row (no --video: no pipeline column), keep the order."""
    cols = list(rows[0].keys()) if rows else []
    return [c for c in cols if c == "status" or any(r.get(c) for r in rows)]


def print_report(report: Dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rows, notes = _footnoted(table_rows(report))
    cols = _columns(rows)
    m = report["machine"]
    cpu = f"{m.get('cpu_model') or m.get('processor')}, {' '.join(m.get('isa') or []) or 'ISA unknown'}"
    table = Table(title=escape(f"edgeunet bench ({m.get('host')}; {cpu})"), show_lines=False)
    for i, name in enumerate(cols):
        table.add_column(name, justify="left" if i < 2 or name == "status" else "right", overflow="fold")
    for row in rows:
        table.add_row(*(escape(row.get(c, "")) for c in cols))  # reasons hold "[trt]"-like text, not markup
    console = Console(soft_wrap=False)
    if not console.is_terminal:  # logs and CI: do not squeeze the table into 80 columns
        console = Console(soft_wrap=False, width=max(console.width, 180))
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)
    console.print(report["timing_method"], style="dim", markup=False, highlight=False)
    costs = cost_rows(report)
    if costs:
        cost_table = Table(title="speed cost of each float layer (--fallback)", show_lines=False)
        for i, name in enumerate(costs[0]):
            cost_table.add_column(name, justify="left" if i < 3 or name == "status" else "right", overflow="fold")
        for row in costs:
            cost_table.add_row(*(escape(v) for v in row.values()))
        console.print(cost_table)
        console.print(COST_NOTE, style="dim", markup=False, highlight=False)


def write_json(report: Dict[str, Any], path: Path) -> None:
    atomic.write_json(path, report)


CSV_FIELDS = ["model", "backend", "precision", "batch", "height", "width", "status", "reason", "device", "file", "file_mb", "dice",
              "miou", "lat_mean_ms", "lat_p50_ms", "lat_p95_ms", "lat_p99_ms", "runs", "fps", "speedup_vs_fp32", "pipeline_fps",
              "peak_rss_mb", "trt_h2d_ms", "trt_compute_ms", "trt_d2h_ms", "qdq_pairs"]


def write_csv(report: Dict[str, Any], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in report["rows"]:
        lat = r.get("latency_ms") or {}
        phases = r.get("trt_phases_ms") or {}
        writer.writerow({
            **r, "height": r["size"][0], "width": r["size"][1], "lat_mean_ms": lat.get("mean"), "lat_p50_ms": lat.get("p50"),
            "lat_p95_ms": lat.get("p95"), "lat_p99_ms": lat.get("p99"), "trt_h2d_ms": phases.get("h2d"),
            "trt_compute_ms": phases.get("compute"), "trt_d2h_ms": phases.get("d2h"),
        })
    atomic_write_text(path, buffer.getvalue())


def markdown(report: Dict[str, Any], command: Optional[str] = None) -> str:
    rows = table_rows(report)
    cols = _columns(rows)
    lines = [f"# edgeunet bench — {report['machine'].get('host')} — {report['created']}", ""]
    if command:
        lines += ["```", command, "```", ""]
    m = report["machine"]
    lines += [f"Machine: {m.get('platform')}, CPU model {m.get('cpu_model') or m.get('processor')} (ISA: {', '.join(m.get('isa') or []) or 'unknown'}), "
              f"{m.get('cpu_count')} CPU(s); onnxruntime {m.get('onnxruntime')}; "
              f"TensorRT {m.get('tensorrt') or 'not installed'}; edgeunet {report['edgeunet_version']}.", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row.get(c, "").replace("|", "/") for c in cols) + " |")
    lines += ["", report["timing_method"], ""]
    costs = cost_rows(report)
    if costs:
        lines += ["## Speed cost of each float layer", "", "| " + " | ".join(costs[0]) + " |", "|" + "|".join("---" for _ in costs[0]) + "|"]
        lines += ["| " + " | ".join(v.replace("|", "/") for v in row.values()) + " |" for row in costs]
        lines += ["", COST_NOTE, ""]
    return "\n".join(lines)


def write_markdown(report: Dict[str, Any], path: Path, command: Optional[str] = None) -> None:
    atomic_write_text(path, markdown(report, command))


def write_plot(report: Dict[str, Any], path: Path) -> None:
    """Bar chart: FPS per variant, annotated with Dice; unavailable rows are shown as empty hatched bars named 'n/a'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [Row(**r) for r in report["rows"]]
    if not rows:
        raise EdgeUnetError("nothing to plot: no rows")
    labels = [r.label for r in rows]
    values = [r.fps or 0.0 for r in rows]
    colours = {"torch": "#e4572e", "onnxruntime": "#29335c", "tensorrt": "#76b900"}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(rows) + 2), 4.5))
    bars = ax.bar(range(len(rows)), values, color=[colours.get(r.backend, "#888") for r in rows])
    top = max(values) if any(values) else 1.0
    for bar, r in zip(bars, rows):
        if not r.ok:
            bar.set_hatch("//")
            bar.set_height(top * 0.03)
            bar.set_facecolor("white")
            bar.set_edgecolor("#999")
            text = "n/a"
        else:
            text = f"{r.fps:.1f}" + (f"\nDice {r.dice:.3f}" if r.dice is not None else "")
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("FPS (model-only, batch x 1000 / mean ms)")
    ax.set_ylim(0, top * 1.25)
    ax.set_title(f"edgeunet bench — {report['machine'].get('host')}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png", dpi=120)
    plt.close(fig)


def write_reports(report: Dict[str, Any], json_out: Optional[Path] = None, csv_out: Optional[Path] = None,
                  md_out: Optional[Path] = None, plot: Optional[Path] = None, command: Optional[str] = None) -> List[str]:
    """Every report the user asked for, each atomically; returns what was written, for one 'wrote ...' line."""
    written: List[str] = []
    if json_out is not None:
        write_json(report, json_out)
        written.append(f"JSON {json_out}")
    if csv_out is not None:
        write_csv(report, csv_out)
        written.append(f"CSV {csv_out}")
    if md_out is not None:
        write_markdown(report, md_out, command)
        written.append(f"Markdown {md_out}")
    if plot is not None:
        write_plot(report, plot)
        written.append(f"chart {plot}")
    return written
