#!/usr/bin/env python3
"""Issue 14: does INT8 keep CamVid's accuracy? One table: fp32, PTQ entropy, PTQ percentile 99.99, PTQ + fallback auto,
and optionally a QAT and a ModelOpt ONNX made elsewhere (scored the same way).

Columns: mIoU (the model's classes; a CamVid model trained with --classes 12 --ignore-index 11 has the 11 real ones,
void never counts), the class with the lowest IoU, the class with the largest IoU drop vs fp32, the mIoU drop, the
number of layers left in float, and CPU latency (median ms, ONNX Runtime, edgeunet.bench.timing) of the row's ONNX
("int8": the Q/DQ graph TensorRT takes) and of the same calibration quantized for the CPU ("int8-cpu": --target cpu,
QLinear ops). The header names the CPU model and its ISA extensions (INT8 speed on a CPU depends on VNNI/AMX).
The fallback row also writes the layer sensitivity report (sensitivity.md + .png) into the output folder.

Usage (the real run is done on a CamVid model; do not point it at a big model on a busy machine):
  .venv/bin/python benchmarks/camvid_int8.py runs/camvid/best.onnx --calib CAMVID/train/images --val CAMVID/val \\
      --out benchmarks/results/camvid-int8 [--qat-onnx q.onnx] [--modelopt-onnx m.onnx] [--threads 4]
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.bench.timing import cpu_info, summarize, time_backend  # noqa: E402
from edgeunet.core.atomic import atomic_write_text, ensure_writable_dir, write_json  # noqa: E402
from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.core.images import read_image  # noqa: E402
from edgeunet.core.onnx_model import KEY_FLOAT_LAYERS, json_field, load_onnx, read_metadata, read_spec  # noqa: E402
from edgeunet.core.processing import preprocess  # noqa: E402
from edgeunet.data.dataset import find_samples  # noqa: E402
from edgeunet.evaluate.evaluate import evaluate  # noqa: E402
from edgeunet.evaluate.gate import GateError  # noqa: E402
from edgeunet.export.int8 import Int8Options, quantize_and_gate  # noqa: E402
from edgeunet.runtime.base import load_backend  # noqa: E402


def latency_ms(model: Path, image: Path, threads: Optional[int], warmup: int, iterations: int) -> float:
    """Median model-only latency (edgeunet.bench.timing: warm-up, then `iterations` timed Backend.run calls)."""
    options: Dict[str, Any] = {"threads": threads} if threads else {}
    with load_backend(model, backend="onnxruntime", device="cpu", **options) as backend:
        batch = preprocess(read_image(image), read_spec(model))
        return summarize(time_backend(backend.run, batch, warmup, iterations, None))["p50"]


def score(model: Path, val: Path, threads: Optional[int]) -> Dict[str, Any]:
    options: Dict[str, Any] = {"threads": threads} if threads else {}
    return evaluate(model, val, backend="onnxruntime", device="cpu", **options)


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def row(name: str, result: Dict[str, Any], reference: Dict[str, Any], floats: Optional[int], ms: Optional[float],
        ms_cpu: Optional[float], note: str = "") -> Dict[str, Any]:
    names = result["class_names"]
    ious = [(iou, n) for iou, n in zip(result["iou"], names) if not math.isnan(iou)]
    lowest = min(ious) if ious else (float("nan"), "-")
    drops = [(r - c, n, c) for r, c, n in zip(reference["iou"], result["iou"], names) if not (math.isnan(r) or math.isnan(c))]
    largest = max(drops) if drops else (float("nan"), "-", float("nan"))
    return {"row": name, "miou": result["miou"], "lowest_class": lowest[1], "lowest_iou": lowest[0], "largest_drop_class": largest[1],
            "largest_class_drop": largest[0], "miou_drop": reference["miou"] - result["miou"], "float_layers": floats,
            "int8_ms": ms, "int8_cpu_ms": ms_cpu, "note": note}


def markdown(rows: List[Dict[str, Any]], header: Dict[str, Any]) -> str:
    lines = [
        "# CamVid INT8: accuracy kept?", "",
        f"Model {header['model']}; validation {header['val']} ({header['val_images']} images); calibration {header['calib']} "
        f"({header['num_images']} images). {header['date']}.",
        f"CPU: {header['cpu_model']} ({', '.join(header['isa']) or 'no INT8-relevant ISA extension found'}), "
        f"ONNX Runtime, {header['threads'] or 'all'} thread(s); latency = median of {header['iterations']} runs after "
        f"{header['warmup']} warm-up (edgeunet.bench.timing, model only).",
        "mIoU over the model's classes (void is ignored, never a class). 'int8 ms': this row's ONNX (fp32 row: the fp32 ONNX); "
        "'int8-cpu ms': the same calibration quantized with --target cpu (QLinear ops).", "",
        "| row | mIoU | drop vs fp32 | lowest class IoU | largest class drop | float layers | int8 ms | int8-cpu ms | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['row']} | {_fmt(r['miou'])} | {_fmt(r['miou_drop'])} | {r['lowest_class']} {_fmt(r['lowest_iou'])} | "
            f"{r['largest_drop_class']} {_fmt(r['largest_class_drop'])} | {'-' if r['float_layers'] is None else r['float_layers']} | "
            f"{_fmt(r['int8_ms'], 2)} | {_fmt(r['int8_cpu_ms'], 2)} | {r['note']} |"
        )
    lines += ["", "Layer sensitivity: [entropy PTQ](sensitivity-fallback.md), [percentile 90](sensitivity-fallback-p90.md).", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", type=Path, help="fp32 ONNX written by `edgeunet export`")
    parser.add_argument("--calib", type=Path, required=True, help="folder of calibration images")
    parser.add_argument("--val", type=Path, required=True, help="labelled validation folder (images/ + masks/)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (table, JSON, ONNX variants, sensitivity report)")
    parser.add_argument("--qat-onnx", type=Path, default=None)
    parser.add_argument("--modelopt-onnx", type=Path, default=None)
    parser.add_argument("--num-images", type=int, default=64)
    parser.add_argument("--max-drop", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args(argv)
    out = ensure_writable_dir(args.out)
    val_images = find_samples(args.val)
    probe = val_images[0].image
    common = {"num_images": args.num_images, "manifest_dir": out / "calibration"}

    def calibrate(onnx: Path, data: Path, target_file: Path, **settings: Any) -> None:
        """`edgeunet calibrate --no-gate` (the one INT8 path, calibration-set check included); the table scores it."""
        quantize_and_gate(onnx, data, target_file, Int8Options(gate=False, **settings))

    def timed(model: Path) -> float:
        return latency_ms(model, probe, args.threads, args.warmup, args.iterations)

    reference = score(args.onnx, args.val, args.threads)
    rows = [row("fp32", reference, reference, None, timed(args.onnx), None)]
    for name, method, extra in (("PTQ entropy", "entropy", {}), ("PTQ percentile 99.99", "percentile", {"percentile": 99.99})):
        qdq = out / f"{method}.int8.onnx"
        calibrate(args.onnx, args.calib, qdq, method=method, **common, **extra)
        cpu = out / f"{method}.int8-cpu.onnx"
        calibrate(args.onnx, args.calib, cpu, method=method, target="cpu", **common, **extra)
        rows.append(row(name, score(qdq, args.val, args.threads), reference, 0, timed(qdq), timed(cpu)))
    # The damaging calibration of the acceptance (percentile 90 clips every activation's top 10%): it must fail the
    # per-class gate, and --fallback auto must then pass it with a few layers in float.
    damaged = out / "percentile90.int8.onnx"
    calibrate(args.onnx, args.calib, damaged, method="percentile", percentile=90.0, **common)
    rows.append(row("PTQ percentile 90 (damaging)", score(damaged, args.val, args.threads), reference, 0, timed(damaged), None))
    for name, stem, method, extra in (("PTQ entropy + fallback auto", "fallback", "entropy", {}),
                                      ("PTQ percentile 90 + fallback auto", "fallback-p90", "percentile", {"percentile": 90.0})):
        fallback = out / f"{stem}.int8.onnx"
        note = ""
        try:
            options = Int8Options(val_data=args.val, max_drop=args.max_drop, method=method, fallback="auto",
                                  sensitivity=out / f"sensitivity-{stem}.md", **common, **extra)  # type: ignore[arg-type]
            calib, _ = quantize_and_gate(args.onnx, args.calib, fallback, options)
            floats: Optional[int] = len(calib.float_layers)
            note = ", ".join(calib.float_layers)[:160]
        except GateError as exc:  # even all layers float failed: score the rejected file, say so
            fallback, floats, note = out / f"{stem}.int8.rejected.onnx", None, f"gate failed: {exc}"[:120]
        if fallback.exists():
            rows.append(row(name, score(fallback, args.val, args.threads), reference, floats, timed(fallback), None, note))
    for name, path in (("QAT", args.qat_onnx), ("ModelOpt", args.modelopt_onnx)):
        if path is not None:
            layers = json_field(read_metadata(load_onnx(path)), KEY_FLOAT_LAYERS)
            rows.append(row(name, score(path, args.val, args.threads), reference, len(layers) if isinstance(layers, list) else None,
                            timed(path), None, "given"))
    header = {"model": str(args.onnx), "val": str(args.val), "val_images": len(val_images), "calib": str(args.calib),
              "num_images": args.num_images, "threads": args.threads, "iterations": args.iterations, "warmup": args.warmup,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **cpu_info()}
    table = out / "camvid-int8.md"
    atomic_write_text(table, markdown(rows, header))
    write_json(out / "camvid-int8.json", {"header": header, "rows": rows})
    print(table.read_text())
    return table


if __name__ == "__main__":
    try:
        main()
    except EdgeUnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
