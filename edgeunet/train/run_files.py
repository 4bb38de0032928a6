"""Every file in a run folder except the checkpoints' bytes: metrics.csv, config.json, snapshots, resume paths.

The loop decides *when* to write; this module knows *what* each file holds.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List

import cv2
import numpy as np
import torch

from edgeunet.core.atomic import atomic_write_text, write_json
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import write_png
from edgeunet.core.processing import normalize
from edgeunet.core.spec import ModelSpec
from edgeunet.train.dataset import SegmentationDataset
from edgeunet.train.epoch import predictions
from edgeunet.train.plots import prediction_grid

CSV_COLUMNS = [
    "epoch", "lr", "train_loss", "train_pixel_acc", "train_miou", "train_dice",
    "val_loss", "val_pixel_acc", "val_miou", "val_dice", "epoch_seconds", "train_images_per_s",
]
SNAPSHOT_TILE = 160


def metrics_columns(history: List[Dict[str, Any]]) -> List[str]:
    """The fixed columns, then one `val_iou_<class>` column per class (in class order) when the rows carry them."""
    per_class = [key for key in (history[0] if history else {}) if key.startswith("val_iou_")]
    return CSV_COLUMNS + per_class


def per_class_columns(prefix: str, iou: List[float], class_names: List[str]) -> Dict[str, float]:
    """{'val_iou_road': 0.91, ...}: names made CSV-safe (spaces and commas become underscores)."""
    safe = [name.replace(" ", "_").replace(",", "_").replace("/", "_") for name in class_names]
    return {f"{prefix}_iou_{name}": value for name, value in zip(safe, iou)}


def write_metrics_csv(path: Path, history: List[Dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=metrics_columns(history), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def write_config(path: Path, config: Dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


def write_class_weights(path: Path, weights: List[float], class_names: List[str], method: str) -> None:
    """class_weights.json: which weight each class got in the loss, and how it was chosen."""
    write_json(path, {"method": method, "weights": dict(zip(class_names, weights)), "values": weights})


def write_snapshot(
    path: Path, model: torch.nn.Module, val_set: SegmentationDataset, spec: ModelSpec, lut: np.ndarray, count: int, title: str, device: torch.device
) -> None:
    """A grid of (image, truth, prediction) for the first `count` validation images."""
    count = min(count, len(val_set))
    if count == 0:
        return
    model.eval()
    rows = []
    with torch.no_grad():
        for index in range(count):
            image, truth = val_set.pair(index)
            tensor = torch.from_numpy(normalize(image, spec))[None].to(device)
            pred = predictions(model(tensor))[0].cpu().numpy().astype(np.uint8)
            scale = SNAPSHOT_TILE / max(image.shape[:2])
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            shown = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
            rows.append({
                "image": cv2.resize(shown, size, interpolation=cv2.INTER_AREA),
                "truth": cv2.resize(truth, size, interpolation=cv2.INTER_NEAREST),
                "pred": cv2.resize(pred, size, interpolation=cv2.INTER_NEAREST),
            })
    write_png(path, prediction_grid(rows, lut, title=title))


def resume_checkpoint_path(resume: Path) -> Path:
    if resume.is_dir():
        if not (resume / "last.pt").is_file():
            raise EdgeUnetError(f"--resume {resume}: not an edgeunet run (no last.pt inside); pass a run folder such as runs/NAME")
        return resume / "last.pt"
    if not resume.exists():
        raise EdgeUnetError(f"--resume {resume}: no such run folder or checkpoint")
    return resume


def remove_stale_temp_files(run_dir: Path) -> None:
    """A SIGKILL mid-write leaves our '.NAME.*.tmp' files behind (the real files are intact); tidy them."""
    for stale in list(run_dir.glob(".*.tmp")) + list(run_dir.glob("snapshots/.*.tmp")):
        stale.unlink()
