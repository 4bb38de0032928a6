"""Folder datasets: images/ + masks/ matched by file stem, mask value mapping, checks (splits: data/splits.py).

Numpy + OpenCV only: calibration and evaluation on the edge path read data through here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.images import IMAGE_SUFFIXES, image_channels, read_image, read_mask
from edgeunet.core.spec import IGNORE_LABEL


@dataclass(frozen=True)
class Sample:
    stem: str
    image: Path
    mask: Optional[Path]


def _natural_key(text: str) -> List[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def list_images(folder: Path) -> List[Path]:
    """Image files in `folder`, naturally sorted (2.png before 10.png); hidden files ignored."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _by_stem(files: Sequence[Path], folder: Path) -> Dict[str, Path]:
    found: Dict[str, Path] = {}
    for path in files:
        if path.stem in found:
            raise EdgeUnetError(f"{folder}: two files share the name {path.stem!r} ({found[path.stem].name}, {path.name}); keep one")
        found[path.stem] = path
    return found


def find_samples(root: Path | str, require_masks: bool = True) -> List[Sample]:
    """Pair ROOT/images/* with ROOT/masks/* by stem. A folder of images alone is accepted without masks."""
    root = Path(root)
    if not root.exists():
        raise EdgeUnetError(f"{root}: no such folder")
    if not root.is_dir():
        raise EdgeUnetError(f"{root}: not a folder; expected a folder with images/ and masks/")
    image_dir = root / "images"
    mask_dir = root / "masks"
    if not image_dir.is_dir():
        if not require_masks and list_images(root):
            image_dir, mask_dir = root, root / "__no_masks__"
        else:
            raise EdgeUnetError(f"{root}: no images/ folder; expected {root}/images and {root}/masks with files matched by name")
    images = _by_stem(list_images(image_dir), image_dir)
    if not images:
        raise EdgeUnetError(f"{image_dir}: no images (png, jpg, tif or bmp)")
    if not mask_dir.is_dir():
        if require_masks:
            raise EdgeUnetError(f"{root}: no masks/ folder; put one mask per image in {mask_dir} with the same file name")
        return [Sample(stem, path, None) for stem, path in images.items()]
    masks = _by_stem(list_images(mask_dir), mask_dir)
    missing = [stem for stem in images if stem not in masks]
    if missing and require_masks:
        example = images[missing[0]].name
        raise EdgeUnetError(
            f"{root}: {len(missing)} image(s) have no mask in {mask_dir} (e.g. {example}); add the masks or remove those images"
        )
    return [Sample(stem, path, masks.get(stem)) for stem, path in images.items()]


def parse_mask_map(text: str) -> List[List[int]]:
    """'0:1,255:0' -> [[0, 1], [255, 0]] (pixel value : class id); '255:ignore' maps a value to IGNORE_LABEL."""
    pairs: List[List[int]] = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            value_text, class_text = (x.strip() for x in item.split(":"))
            value = int(value_text)
            cls = IGNORE_LABEL if class_text.lower() == "ignore" else int(class_text)
        except ValueError:
            raise EdgeUnetError(f"--mask-map {text!r}: expected pairs like '0:1,255:0' (pixel value:class id, or value:ignore)") from None
        pairs.append([value, cls])
    if not pairs:
        raise EdgeUnetError(f"--mask-map {text!r} is empty")
    return pairs


def default_mask_values(num_classes: int, positive_value: Optional[int] = None) -> List[List[int]]:
    """Binary: 255 (or 1) is the positive class unless `positive_value` says otherwise; N classes: identity."""
    if num_classes == 2:
        if positive_value is None:
            return [[0, 0], [1, 1], [255, 1]]
        if not 0 <= positive_value <= 255:
            raise EdgeUnetError(f"--positive-value {positive_value} must be a pixel value 0..255")
        other = 255 if positive_value == 0 else 0
        return [[positive_value, 1], [other, 0]]
    if positive_value is not None:
        raise EdgeUnetError("--positive-value is for binary masks; use --mask-map for several classes")
    return [[c, c] for c in range(num_classes)]


def apply_ignore_index(mask_values: Sequence[Sequence[int]], ignore_index: int, classes: int) -> Tuple[List[List[int]], int]:
    """Make class `ignore_index` (one of the --classes ids, e.g. CamVid's void 11) an ignored label.

    The model then has outputs for the real classes only (classes - 1), so void can never be predicted; real
    classes above it move down by one. Returns (new mask_values, number of real classes).
    """
    used = sorted({int(c) for _, c in mask_values if int(c) != IGNORE_LABEL})
    if ignore_index not in used:
        raise EdgeUnetError(
            f"--ignore-index {ignore_index}: no mask value maps to class {ignore_index} (classes in the mapping: "
            f"{', '.join(map(str, used))}); pass one of them, or map pixels to 'ignore' with --mask-map"
        )
    mapped = []
    for value, cls in mask_values:
        cls = int(cls)
        if cls == ignore_index:
            cls = IGNORE_LABEL
        elif cls != IGNORE_LABEL and cls > ignore_index:
            cls -= 1
        mapped.append([int(value), cls])
    return mapped, classes - 1


class MaskMapper:
    """Pixel values -> class ids through a lookup table; unknown values are a user error, not silent noise."""

    def __init__(self, mask_values: Sequence[Sequence[int]], num_classes: int) -> None:
        self.mapping = {int(v): int(c) for v, c in mask_values}
        bad = [c for c in self.mapping.values() if not 0 <= c < num_classes and c != IGNORE_LABEL]
        if bad:
            raise EdgeUnetError(f"mask mapping names class {bad[0]} but the model has {num_classes} classes (0..{num_classes - 1})")
        self._lut = np.full(65536, -1, dtype=np.int16)
        for value, cls in self.mapping.items():
            if not 0 <= value < 65536:
                raise EdgeUnetError(f"mask value {value} is out of range 0..65535")
            self._lut[value] = cls

    def __call__(self, mask: np.ndarray, source: Path | str = "mask") -> np.ndarray:
        if mask.dtype not in (np.uint8, np.uint16):
            raise EdgeUnetError(f"{source}: mask pixel type {mask.dtype}; save masks as 8- or 16-bit PNG")
        mapped = self._lut[mask]
        if mapped.min() < 0:
            unknown = sorted(set(np.unique(mask).tolist()) - set(self.mapping))
            shown = ", ".join(str(v) for v in unknown[:8])
            raise EdgeUnetError(
                f"{source}: mask values {shown} are not in the mapping {self.describe()}; "
                "pass --mask-map (e.g. '0:0,128:1,255:2') or --positive-value, and save masks as PNG (not JPEG)"
            )
        return mapped.astype(np.uint8)

    def describe(self) -> str:
        return "{" + ", ".join(f"{v}->{c}" for v, c in sorted(self.mapping.items())) + "}"


def load_pair(sample: Sample, mapper: MaskMapper) -> Tuple[np.ndarray, np.ndarray]:
    """(image uint8 HxW or HxWx3 BGR, class-id mask uint8 HxW), sizes checked."""
    image = read_image(sample.image)
    if sample.mask is None:
        raise EdgeUnetError(f"{sample.image}: no mask")
    raw_mask = read_mask(sample.mask)
    if raw_mask.shape[:2] != image.shape[:2]:
        raise EdgeUnetError(
            f"{sample.mask}: mask is {raw_mask.shape[1]}x{raw_mask.shape[0]} but its image is "
            f"{image.shape[1]}x{image.shape[0]}; masks must match their images pixel for pixel"
        )
    return image, mapper(raw_mask, sample.mask)


def dataset_channels(samples: Sequence[Sample]) -> int:
    """1 when every image is gray (or colour with equal channels), else 3."""
    for sample in samples[:16]:
        image = read_image(sample.image)
        if image_channels(image) == 3 and not (
            np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2])
        ):
            return 3
    return 1


def mean_std(images: Sequence[np.ndarray]) -> Tuple[List[float], List[float]]:
    """Per-channel mean and std in [0, 1] units over the given (model-channel) images."""
    stacked = [img.reshape(-1, 1 if img.ndim == 2 else img.shape[2]).astype(np.float64) / 255.0 for img in images]
    pixels = np.concatenate(stacked, axis=0)
    std = np.maximum(pixels.std(axis=0), 1e-3)
    return [round(float(m), 5) for m in pixels.mean(axis=0)], [round(float(s), 5) for s in std]


@dataclass
class DatasetReport:
    root: Path
    images: int
    masks: int
    sizes: Dict[str, int]
    channels: Dict[int, int]
    mask_values: Dict[int, int]
    class_pixels: Dict[int, int]
    problems: List[str]


def check_dataset(root: Path | str, mask_values: Sequence[Sequence[int]], num_classes: int) -> DatasetReport:
    """Read every pair once and collect problems instead of stopping at the first (for `data check`)."""
    root = Path(root)
    samples = find_samples(root, require_masks=False)
    mapper = MaskMapper(mask_values, num_classes)
    sizes: Dict[str, int] = {}
    channels: Dict[int, int] = {}
    values: Dict[int, int] = {}
    class_pixels: Dict[int, int] = {c: 0 for c in range(num_classes)}
    problems: List[str] = []
    n_masks = 0
    for sample in samples:
        try:
            image = read_image(sample.image)
        except EdgeUnetError as exc:
            problems.append(str(exc))
            continue
        key = f"{image.shape[1]}x{image.shape[0]}"
        sizes[key] = sizes.get(key, 0) + 1
        channels[image_channels(image)] = channels.get(image_channels(image), 0) + 1
        if sample.mask is None:
            problems.append(f"{sample.image}: no mask")
            continue
        n_masks += 1
        try:
            raw = read_mask(sample.mask)
        except EdgeUnetError as exc:
            problems.append(str(exc))
            continue
        if raw.shape[:2] != image.shape[:2]:
            problems.append(f"{sample.mask}: size {raw.shape[1]}x{raw.shape[0]} differs from its image ({key})")
            continue
        uniq, counts = np.unique(raw, return_counts=True)
        for v, n in zip(uniq.tolist(), counts.tolist()):
            values[v] = values.get(v, 0) + n
        try:
            mapped = mapper(raw, sample.mask)
        except EdgeUnetError as exc:
            problems.append(str(exc))
            continue
        for c, n in enumerate(np.bincount(mapped.ravel(), minlength=num_classes).tolist()[:num_classes]):
            class_pixels[c] = class_pixels.get(c, 0) + n
    return DatasetReport(root, len(samples), n_masks, sizes, channels, values, class_pixels, problems)
