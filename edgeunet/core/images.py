"""Reading images and masks from disk with errors a user can act on (no torch)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeunet.core.errors import EdgeUnetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def _imread(path: Path, flags: int) -> np.ndarray:
    if not path.is_file():
        raise EdgeUnetError(f"{path}: no such file")
    # np.fromfile + imdecode instead of cv2.imread: works with non-ASCII paths on every OS.
    try:
        raw = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise EdgeUnetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    image = cv2.imdecode(raw, flags) if raw.size else None
    if image is None:
        raise EdgeUnetError(f"{path}: not a readable image (corrupt or not PNG/JPEG/TIFF/BMP); replace or remove it")
    return image


def to_uint8(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    raise EdgeUnetError(f"{path}: unsupported pixel type {image.dtype}; save it as 8-bit PNG")


def read_image(path: Path | str) -> np.ndarray:
    """An 8-bit image as HxW (gray) or HxWx3 (BGR); alpha is dropped."""
    path = Path(path)
    image = to_uint8(_imread(path, cv2.IMREAD_UNCHANGED), path)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def read_mask(path: Path | str) -> np.ndarray:
    """A label image as HxW integers; colour masks must be single-channel (one class id per pixel)."""
    path = Path(path)
    mask = _imread(path, cv2.IMREAD_UNCHANGED)
    if mask.ndim == 3:
        if mask.shape[2] >= 3 and np.array_equal(mask[:, :, 0], mask[:, :, 1]) and np.array_equal(mask[:, :, 1], mask[:, :, 2]):
            return mask[:, :, 0]
        raise EdgeUnetError(f"{path}: colour mask; masks must be single-channel images whose pixel values are class ids")
    return mask


def image_channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else int(image.shape[2])
