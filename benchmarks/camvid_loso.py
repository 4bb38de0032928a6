"""Summarise a camvid_loso.sh run: per-fold and mean mIoU, per-class IoU, CPU-seconds per fold, the machine.

Reads RUN/evaluate-<fold>.json (edgeunet evaluate --json) and RUN/time-<fold>.txt (GNU time: user sys wall maxRSS),
writes RESULTS/camvid-loso-NAME-DATE.md and .json. The mean is over the sequence folds only; a `random` fold (the
seeded 80/20 split whose validation frames have near-twins in training) is shown beside it, to state the leak.
Usage: camvid_loso.py RUN --name NAME [--results DIR] [--command TEXT] [--setting TEXT]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any, Dict, List

BUDGET_CPU_S = 3600.0  # 30 minutes of 2 cores
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def machine() -> str:
    """CPU model and the ISA flags that decide CPU training speed (bf16 autocast needs AVX-512 BF16 or AMX)."""
    model, flags = platform.processor() or "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    return f"{model}, {os.cpu_count()} CPUs, ISA: {' '.join(f for f in ISA_FLAGS if f in flags) or 'none of ' + ', '.join(ISA_FLAGS)}"


def selection(run: Path, name: str) -> Dict[str, float]:
    """Validation mIoU (model size) of the chosen epoch and of the last one, from the run's metrics.csv.

    Why: best.pt is the epoch that scored best on the held-out sequence itself, so the fold's figure is slightly
    optimistic; the last epoch's score (no choice made on the held-out data) shows by how much.
    """
    path = run / name / "metrics.csv"
    if not path.is_file():
        return {}
    rows = list(csv.DictReader(path.open()))
    scores = [float(r["val_miou"]) for r in rows]
    return {"val_miou_best_epoch": max(scores), "val_miou_last_epoch": scores[-1], "best_epoch": scores.index(max(scores)) + 1,
            "epochs": len(scores)} if scores else {}


def fold(run: Path, name: str) -> Dict[str, Any]:
    result = json.loads((run / f"evaluate-{name}.json").read_text())
    user, system, wall, rss = (run / f"time-{name}.txt").read_text().split()[-4:]
    per_class = {c: result["iou_per_class"][c] for c in result["class_names"]}  # class order (the JSON is key-sorted)
    return {"fold": name, "images": result["images"], "miou": result["miou"], "iou_per_class": per_class,
            "cpu_s": float(user) + float(system), "wall_s": float(wall), "max_rss_mb": int(rss) / 1024, **selection(run, name)}


def markdown(name: str, folds: List[Dict[str, Any]], mean: float, meta: Dict[str, str]) -> str:
    classes = list(folds[0]["iou_per_class"])
    lines = [f"# CamVid leave-one-sequence-out: {name}", "",
             f"{meta['date']}; {meta['machine']}.", f"Setting: {meta['setting']}.", f"Command: `{meta['command']}`.", "",
             f"**Mean mIoU of the sequence folds: {mean:.4f}** (11 classes, void ignored, scored at 480x360).", "",
             "| held out | images | mIoU | CPU-s (budget 3600) | wall s | " + " | ".join(classes) + " |",
             "|---|---|---|---|---|" + "---|" * len(classes)]
    for f in folds:
        label = f["fold"] + (" (random 80/20, leaks: not in the mean)" if f["fold"] == "random" else "")
        over = " over budget" if f["cpu_s"] > BUDGET_CPU_S else ""
        lines.append(f"| {label} | {f['images']} | {f['miou']:.4f} | {f['cpu_s']:.0f}{over} | {f['wall_s']:.0f} | "
                     + " | ".join(f"{f['iou_per_class'][c]:.2f}" for c in classes) + " |")
    lines += ["", "best.pt is the epoch that scored best on the held-out sequence (validation at model size), a choice made on",
              "the test fold; the last epoch's score is free of it:", "",
              "| held out | best epoch | its val mIoU | last epoch | its val mIoU |", "|---|---|---|---|---|"]
    for f in folds:
        if "best_epoch" in f:
            lines.append(f"| {f['fold']} | {f['best_epoch']} | {f['val_miou_best_epoch']:.4f} | {f['epochs']} | {f['val_miou_last_epoch']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--command", default="")
    parser.add_argument("--setting", default="")
    args = parser.parse_args()
    names = sorted(p.stem.split("-", 1)[1] for p in args.run.glob("evaluate-*.json"))
    folds = [fold(args.run, n) for n in names if n != "random"] + [fold(args.run, n) for n in names if n == "random"]
    sequence_folds = [f for f in folds if f["fold"] != "random"]
    if not sequence_folds:
        raise SystemExit(f"{args.run}: no evaluate-<sequence>.json; run benchmarks/camvid_loso.sh first")
    mean = sum(f["miou"] for f in sequence_folds) / len(sequence_folds)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
            "setting": args.setting, "command": args.command}
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"camvid-loso-{args.name}-{meta['date'][:10]}"
    stem.with_suffix(".md").write_text(markdown(args.name, folds, mean, meta))
    stem.with_suffix(".json").write_text(json.dumps({"name": args.name, "mean_miou": mean, "folds": folds, **meta}, indent=2) + "\n")
    print(f"mean mIoU {mean:.4f} over {len(sequence_folds)} fold(s); wrote {stem}.md and .json")


if __name__ == "__main__":
    main()
