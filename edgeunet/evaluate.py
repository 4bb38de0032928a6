"""Evaluate any model file on a labelled folder, at the images' own resolution."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

import cv2

from edgeunet.atomic import atomic_dir, atomic_write_text
from edgeunet.data import MaskMapper, Sample, find_samples, load_pair
from edgeunet.metrics import ConfusionMatrix
from edgeunet.segmenter import Segmenter
from edgeunet.visualize import colour_lut, overlay


def evaluate(
    model: Path | str,
    data: Path | str,
    backend: str = "auto",
    device: str = "auto",
    save_predictions: Optional[Path] = None,
    segmenter: Optional[Segmenter] = None,
    samples: Optional[Sequence[Sample]] = None,
) -> Dict[str, Any]:
    """Metrics of `model` on DATA/images + DATA/masks, with the mask mapping the model was trained with.

    `samples`: score exactly these pairs instead of all of DATA (e.g. a validation split for the gate).
    """
    seg = segmenter or Segmenter(model, backend=backend, device=device)
    spec = seg.spec
    samples = list(samples) if samples is not None else find_samples(data)
    mapper = MaskMapper(spec.mask_values, spec.num_classes)
    cm = ConfusionMatrix(spec.num_classes)
    lut = colour_lut(spec.colors)
    with _optional_dir(save_predictions) as out_dir:
        for sample in samples:
            image, truth = load_pair(sample, mapper)
            pred = seg.predict(image)
            cm.update(pred, truth)
            if out_dir is not None:
                cv2.imwrite(str(out_dir / "masks" / f"{sample.stem}.png"), pred)
                cv2.imwrite(str(out_dir / "overlays" / f"{sample.stem}.jpg"), overlay(image, pred, lut))
    result = cm.scores()
    result.update(
        model=str(model),
        backend=seg.backend.name,
        precision=seg.backend.precision,
        images=len(samples),
        class_names=spec.class_names,
    )
    return result


@contextlib.contextmanager
def _optional_dir(path: Optional[Path]) -> Iterator[Optional[Path]]:
    """atomic_dir (with masks/ and overlays/) when a folder is asked for, else nothing."""
    if path is None:
        yield None
        return
    with atomic_dir(path) as tmp:
        (tmp / "masks").mkdir()
        (tmp / "overlays").mkdir()
        yield tmp


def write_json(result: Dict[str, Any], path: Path | str) -> None:
    atomic_write_text(path, json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
