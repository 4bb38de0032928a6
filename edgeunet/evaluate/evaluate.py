"""Evaluate any model file on a labelled folder, at the images' own resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from edgeunet.core.metrics import ConfusionMatrix
from edgeunet.core.overlay import colour_lut
from edgeunet.data.dataset import MaskMapper, Sample, find_samples, load_pair
from edgeunet.data.splits import find_groups, has_sequences
from edgeunet.evaluate.outputs import prediction_folder
from edgeunet.evaluate.tiling import frame_predictor
from edgeunet.runtime.segmenter import Segmenter


def evaluate(
    model: Path | str,
    data: Path | str,
    backend: str = "auto",
    device: str = "auto",
    save_predictions: Optional[Path] = None,
    segmenter: Optional[Segmenter] = None,
    samples: Optional[Sequence[Sample]] = None,
    size: Optional[str] = None,
    tile: Optional[int] = None,
    overlap: int = 64,
    group_regex: Optional[str] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Metrics of `model` on DATA/images + DATA/masks, with the mask mapping the model was trained with.

    `samples`: score exactly these pairs instead of all of DATA (e.g. a validation split for the gate).
    `segmenter`: score through this open one (the caller closes it); otherwise one is opened and closed here,
    so a gate run never leaks an ONNX Runtime session or an engine on a GPU.
    `size`/`tile`/`overlap`: 'native' runs whole frames at their own resolution; `tile` blends overlapping tiles.
    `group_regex`: when the file names are frames of several sequences (data/splits.py), the result also holds
    `groups`: {sequence: {images, miou, dice, pixel_acc}}, so a scene the model fails on is not averaged away.
    `options`: backend options (threads, opt_level) and `upsample`, as for `Segmenter`.
    """
    samples = list(samples) if samples is not None else find_samples(data)
    groups = find_groups(samples, group_regex)
    group_of = {s.image: name for name, members in groups.items() for s in members} if has_sequences(groups) else {}
    if segmenter is not None:
        return _score(segmenter, model, samples, save_predictions, group_of=group_of)
    with Segmenter(model, backend=backend, device=device, **options) as seg:
        return _score(seg, model, samples, save_predictions, frame_predictor(seg, size, tile, overlap), group_of)


def _score(
    seg: Segmenter, model: Path | str, samples: Sequence[Sample], save_predictions: Optional[Path],
    predict: Optional[Callable[[np.ndarray], np.ndarray]] = None, group_of: Optional[Dict[Any, str]] = None,
) -> Dict[str, Any]:
    spec = seg.spec
    predict = predict or seg.predict
    mapper = MaskMapper(spec.mask_values, spec.num_classes)
    cm = ConfusionMatrix(spec.num_classes)
    per_group: Dict[str, ConfusionMatrix] = {}
    counts: Dict[str, int] = {}
    with prediction_folder(save_predictions, colour_lut(spec.colors)) as writer:
        for sample in samples:
            image, truth = load_pair(sample, mapper)
            pred = predict(image)
            cm.update(pred, truth)
            if group_of:
                name = group_of[sample.image]
                per_group.setdefault(name, ConfusionMatrix(spec.num_classes)).update(pred, truth)
                counts[name] = counts.get(name, 0) + 1
            if writer is not None:
                writer.write(sample.stem, image, pred)
    result = cm.scores()
    result.update(
        model=str(model),
        backend=seg.backend.name,
        precision=seg.backend.precision,
        images=len(samples),
        class_names=spec.class_names,
        iou_per_class={name: value for name, value in zip(spec.class_names, result["iou"])},
        confusion=cm.matrix.tolist(),  # rows = truth, columns = prediction; ignored (void) pixels are not counted
        ignore_index=spec.ignore_index,
    )
    if per_group:
        result["groups"] = {name: _group_scores(per_group[name], counts[name]) for name in per_group}
    return result


def _group_scores(cm: ConfusionMatrix, images: int) -> Dict[str, Any]:
    scores = cm.scores()
    return {"images": images, "miou": scores["miou"], "dice": scores["dice"], "pixel_acc": scores["pixel_acc"]}


def group_rows(result: Dict[str, Any]) -> List[Dict[str, str]]:
    """One table row per sequence (evaluate's per-group report), weakest first: the scene to look at leads."""
    groups = result.get("groups") or {}
    ordered = sorted(groups.items(), key=lambda item: item[1]["miou"])
    return [{"sequence": name, "images": str(g["images"]), "mIoU": f"{g['miou']:.4f}", "Dice": f"{g['dice']:.4f}",
             "pixel_acc": f"{g['pixel_acc']:.4f}"} for name, g in ordered]
