"""Decisions drawn from a bench report: the Dice floor (--min-dice), the recommended variant (--choose), INT8 notes.

Why apart from the report writers: these turn numbers into a verdict (an exit code, a file other tools read),
and they must give the same answer for a report read back from JSON as for one just measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from edgeunet.bench.config import INT8_PRECISIONS, Row
from edgeunet.core.atomic import write_json
from edgeunet.core.errors import EdgeUnetError


def check_min_dice(report: Dict[str, Any], floor: float) -> None:
    """One-line failure when any measured row is below `floor` (unmeasured rows do not count)."""
    scored = [Row(**r) for r in report["rows"] if r["status"] == "ok" and r.get("dice") is not None]
    if not scored:
        raise EdgeUnetError("--min-dice needs Dice scores: pass --data DIR (images/ + masks/)")
    below = [r for r in scored if (r.dice or 0.0) < floor]
    if below:
        worst = ", ".join(f"{r.label} {r.dice:.4f}" for r in below[:4]) + (" ..." if len(below) > 4 else "")
        raise EdgeUnetError(f"--min-dice {floor}: {len(below)} of {len(scored)} row(s) below the floor: {worst}", exit_code=4)


def choose(report: Dict[str, Any], max_drop: float) -> Dict[str, Any]:
    """The fastest measured variant whose Dice drop vs fp32 (same model and size) is within `max_drop`."""
    rows = [Row(**r) for r in report["rows"] if r["status"] == "ok"]
    if not any(r.dice is not None for r in rows):
        raise EdgeUnetError("--choose needs Dice scores: pass --data DIR (images/ + masks/)")
    ref: Dict[Tuple[str, Tuple[int, ...]], float] = {}
    for r in rows:
        if r.precision == "fp32" and r.dice is not None:
            key = (r.model, tuple(r.size))
            ref[key] = max(ref.get(key, 0.0), r.dice)
    candidates: List[Dict[str, Any]] = []
    for r in rows:
        base = ref.get((r.model, tuple(r.size)))
        if r.dice is None or base is None or r.fps is None:
            continue
        drop = base - r.dice
        candidates.append({"label": r.label, "backend": r.backend, "precision": r.precision, "batch": r.batch,
                           "size": r.size, "file": r.file, "fps": r.fps, "dice": r.dice, "fp32_dice": base,
                           "dice_drop": round(drop, 5), "accepted": drop <= max_drop})
    accepted = sorted((c for c in candidates if c["accepted"]), key=lambda c: -c["fps"])
    if not accepted:
        raise EdgeUnetError(f"--choose: no measured variant is within --max-drop {max_drop} of fp32 Dice")
    notes = int8_notes(rows)
    return {"schema": "edgeunet-recommendation/1", "max_drop": max_drop, "recommended": accepted[0],
            "notes": notes, "candidates": sorted(candidates, key=lambda c: -c["fps"]), "bench_created": report["created"]}


def int8_notes(rows: List[Row]) -> List[str]:
    """Plain sentences wherever INT8 is not faster than FP16/FP32 on the same backend, batch and size."""
    notes = []
    for r in rows:
        if r.precision not in INT8_PRECISIONS or r.fps is None:
            continue
        others = [o for o in rows if o.backend == r.backend and o.batch == r.batch and o.size == r.size and o.model == r.model
                  and o.precision in ("fp32", "fp16") and o.fps is not None]
        faster = [o for o in others if (o.fps or 0) >= r.fps]
        if faster:
            best = max(faster, key=lambda o: o.fps or 0)
            notes.append(f"INT8 ({r.precision}) is not faster than {best.precision.upper()} on this device with {r.backend} "
                         f"(batch {r.batch}, {r.size[0]}x{r.size[1]}): {r.precision} {r.fps:.1f} FPS vs {best.precision} {best.fps:.1f} FPS")
    return notes


def iter_ok(report: Dict[str, Any]) -> Iterator[Row]:
    for r in report["rows"]:
        if r["status"] == "ok":
            yield Row(**r)


def write_recommendation(report: Dict[str, Any], max_drop: float, target: Path) -> Dict[str, Any]:
    """`choose`, written atomically to `target` (recommended.json, read by deploy and by people); returns it."""
    rec = choose(report, max_drop)
    write_json(target, rec)
    return rec


def recommendation_line(rec: Dict[str, Any], target: Path) -> str:
    best = rec["recommended"]
    return (f"recommended: {best['label']} ({best['fps']:.1f} FPS, Dice {best['dice']:.4f}, drop {best['dice_drop']:+.4f} "
            f"<= {rec['max_drop']}) -> {target}")
