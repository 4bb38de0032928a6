"""The one writer of prediction folders (`masks/` class-id PNGs, `overlays/` JPEGs) for evaluate and infer.

Built under a temporary name and renamed into place (atomic_dir), so an interrupted run leaves no half folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from edgeunet.core.atomic import atomic_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import overlay


class PredictionWriter:
    """Writes one image's mask (and overlay) by file stem into a folder that is being built."""

    def __init__(self, folder: Path, lut: np.ndarray, overlays: bool = True) -> None:
        self.folder, self.lut, self.overlays = folder, lut, overlays
        (folder / "masks").mkdir()
        if overlays:
            (folder / "overlays").mkdir()

    def write(self, stem: str, image: np.ndarray, mask: np.ndarray) -> None:
        if not cv2.imwrite(str(self.folder / "masks" / f"{stem}.png"), mask):
            raise EdgeUnetError(f"{self.folder}: could not write {stem}.png (disk full?)")
        if self.overlays:
            cv2.imwrite(str(self.folder / "overlays" / f"{stem}.jpg"), overlay(image, mask, self.lut))


@contextlib.contextmanager
def prediction_folder(path: Optional[Path], lut: np.ndarray, overlays: bool = True) -> Iterator[Optional[PredictionWriter]]:
    """A PredictionWriter over a new folder at `path` (renamed into place on success), or None when no folder is asked for."""
    if path is None:
        yield None
        return
    with atomic_dir(Path(path)) as tmp:
        yield PredictionWriter(tmp, lut, overlays)
