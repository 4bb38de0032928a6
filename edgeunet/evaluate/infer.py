"""`edgeunet infer MODEL INPUTS... --out DIR`: masks, overlays and class areas for a batch of images.

Any model file (.pt, .onnx, .engine) through the same Segmenter, so these masks are exactly what
`evaluate`, the gate and the live stream produce. Output layout:

    DIR/masks/<stem>.png      class ids (0 = background), at the image's own size
    DIR/overlays/<stem>.jpg   class colours blended onto the image
    DIR/areas.json            per image: size, pixel count and fraction per class name

The folder is built under a temporary name and renamed at the end (no half-written results).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from edgeunet.core.atomic import write_json
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.images import IMAGE_SUFFIXES, read_image
from edgeunet.core.overlay import colour_lut
from edgeunet.data.dataset import list_images
from edgeunet.evaluate.outputs import prediction_folder
from edgeunet.evaluate.tiling import frame_predictor
from edgeunet.runtime.segmenter import Segmenter


@dataclass
class InferResult:
    out: Path
    images: int
    backend: str
    precision: str
    areas: Dict[str, Any]


def collect_inputs(inputs: Sequence[Path]) -> List[Path]:
    """Image files from INPUTS (files, or folders: their images, naturally sorted); stems must be unique."""
    if not inputs:
        raise EdgeUnetError("no INPUTS given; pass image files or folders of images")
    files: List[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = list_images(item)
            if not found and (item / "images").is_dir():
                found = list_images(item / "images")
            if not found:
                raise EdgeUnetError(f"{item}: no images (png, jpg, tif or bmp) in this folder")
            files.extend(found)
        elif item.is_file():
            if item.suffix.lower() not in IMAGE_SUFFIXES:
                raise EdgeUnetError(f"{item}: not an image file ({', '.join(IMAGE_SUFFIXES)}); for video use `edgeunet stream`")
            files.append(item)
        else:
            raise EdgeUnetError(f"{item}: no such file or folder")
    seen: Dict[str, Path] = {}
    for path in files:
        if path.stem in seen and seen[path.stem].resolve() != path.resolve():
            raise EdgeUnetError(f"{path}: same name as {seen[path.stem]}; outputs are named by file stem, rename one")
        seen[path.stem] = path
    return list(dict.fromkeys(files))


def class_areas(mask: np.ndarray, class_names: Sequence[str]) -> Dict[str, Any]:
    counts = np.bincount(mask.reshape(-1), minlength=len(class_names))
    total = int(mask.size)
    return {
        "size": [int(mask.shape[0]), int(mask.shape[1])],
        "pixels": {name: int(counts[i]) for i, name in enumerate(class_names)},
        "fraction": {name: round(float(counts[i]) / total, 6) for i, name in enumerate(class_names)},
    }


def infer(
    model: Path | str,
    inputs: Sequence[Path],
    out: Path | str,
    backend: str = "auto",
    device: str = "auto",
    overlays: bool = True,
    size: Optional[str] = None,
    tile: Optional[int] = None,
    overlap: int = 64,
    **options: Any,
) -> InferResult:
    """Segment every input image with MODEL and write masks, overlays and areas.json under OUT (native/tiled as asked)."""
    files = collect_inputs(inputs)
    with Segmenter(model, backend=backend, device=device, **options) as seg:
        spec = seg.spec
        lut = colour_lut(spec.colors)
        areas: Dict[str, Any] = {}
        from tqdm import tqdm

        predict = frame_predictor(seg, size, tile, overlap)
        with prediction_folder(Path(out), lut, overlays) as writer:
            assert writer is not None
            for path in tqdm(files, desc="infer", unit="img", leave=False, disable=None):
                image = read_image(path)
                mask = predict(image)
                writer.write(path.stem, image, mask)
                areas[path.stem] = {"image": str(path), **class_areas(mask, spec.class_names)}
            summary = {
                "model": str(model), "backend": seg.backend.name, "precision": seg.backend.precision,
                "classes": spec.class_names, "images": areas,
            }
            write_json(writer.folder / "areas.json", summary)
    return InferResult(out=Path(out), images=len(files), backend=seg.backend.name, precision=seg.backend.precision, areas=areas)
