"""Evaluate any model file on a labelled folder, at the images' own resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

from edgeunet.core.metrics import ConfusionMatrix
from edgeunet.core.overlay import colour_lut
from edgeunet.data.dataset import MaskMapper, Sample, find_samples, load_pair
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
    **options: Any,
) -> Dict[str, Any]:
    """Metrics of `model` on DATA/images + DATA/masks, with the mask mapping the model was trained with.

    `samples`: score exactly these pairs instead of all of DATA (e.g. a validation split for the gate).
    `segmenter`: score through this open one (the caller closes it); otherwise one is opened and closed here,
    so a gate run never leaks an ONNX Runtime session or an engine on a GPU.
    `size`/`tile`/`overlap`: 'native' runs whole frames at their own resolution; `tile` blends overlapping tiles.
    `options`: backend options (threads, opt_level), as for `Segmenter`.
    """
    samples = list(samples) if samples is not None else find_samples(data)
    if segmenter is not None:
        return _score(segmenter, model, samples, save_predictions)
    with Segmenter(model, backend=backend, device=device, **options) as seg:
        return _score(seg, model, samples, save_predictions, frame_predictor(seg, size, tile, overlap))


def _score(
    seg: Segmenter, model: Path | str, samples: Sequence[Sample], save_predictions: Optional[Path],
    predict: Optional[Callable[[np.ndarray], np.ndarray]] = None,
) -> Dict[str, Any]:
    spec = seg.spec
    predict = predict or seg.predict
    mapper = MaskMapper(spec.mask_values, spec.num_classes)
    cm = ConfusionMatrix(spec.num_classes)
    with prediction_folder(save_predictions, colour_lut(spec.colors)) as writer:
        for sample in samples:
            image, truth = load_pair(sample, mapper)
            pred = predict(image)
            cm.update(pred, truth)
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
    return result
