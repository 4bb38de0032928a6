"""Choosing images by seed: one sampler for every calibration path (ONNX Runtime Q/DQ and TensorRT's calibrators).

Why one: two samplers picked different images for the same --seed and wrote different manifests, so an engine
calibrated by TensorRT could not be traced to the same images as its Q/DQ twin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.data.dataset import find_samples


def sample_images(data: Path, num_images: int, seed: int = 0, exclude: Sequence[Path] = ()) -> List[Path]:
    """`num_images` image files from DATA (or DATA/images), drawn with `seed`, minus `exclude`, in file order."""
    if num_images < 1:
        raise EdgeUnetError(f"--num-images {num_images}: use at least 1 (64-500 is typical)")
    samples = find_samples(data, require_masks=False)
    paths = [s.image for s in samples if not _is_excluded(s.image, exclude)]
    if not paths:
        raise EdgeUnetError(f"--data {data}: every image is also a validation image; calibrate on training images instead")
    rng = np.random.default_rng(seed)
    count = min(num_images, len(paths))
    chosen = sorted(rng.choice(len(paths), size=count, replace=False).tolist())
    return [paths[i] for i in chosen]


def _is_excluded(path: Path, exclude: Sequence[Path]) -> bool:
    """Same file, or a copy of it (same size, then same sha256): a copied validation image is still one."""
    size = path.stat().st_size
    for other in exclude:
        other = Path(other)
        if path.resolve() == other.resolve():
            return True
        if other.is_file() and other.stat().st_size == size and sha256_file(other) == sha256_file(path):
            return True
    return False


def training_paths(checkpoint: Path, config: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """The run's data folders as absolute paths, when they can still be found.

    Training stores paths as typed (often relative to where `edgeunet train` ran). That folder is
    recovered from the run folder: CHECKPOINT is RUN/best.pt and RUN was given as `out`.
    """
    bases = [Path.cwd()]
    out = config.get("out")
    run_dir = checkpoint.resolve().parent
    if out and not Path(out).is_absolute() and run_dir.parts[-len(Path(out).parts):] == Path(out).parts:
        bases.insert(0, run_dir.parents[len(Path(out).parts) - 1])
    found: Dict[str, Optional[str]] = {}
    for key in ("data", "val_data"):
        value = config.get(key)
        found[key] = None
        if value:
            for base in bases:
                candidate = (base / value).resolve()
                if candidate.is_dir():
                    found[key] = str(candidate)
                    break
    return found
