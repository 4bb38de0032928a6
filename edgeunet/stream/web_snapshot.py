"""POST /snapshot's files: frame, class-id mask and overlay, under a disk quota, one save at a time.

Why a quota: the snapshot button writes about 1 MB per press; whoever may press it (the token holder or
our own page) must still not be able to fill the device's disk, which would stop every other writer.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from edgeunet.core.atomic import atomic_write_bytes, ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError

PREFIX = "snap-"


def used_bytes(folder: Path) -> int:
    """Bytes held by earlier snapshots in `folder` (only our own snap-* files count)."""
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(PREFIX) and entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0
    return total


def save_snapshot(folder: Path, index: int, frame: np.ndarray, mask: np.ndarray, view: np.ndarray,
                  quota_bytes: int = 256 << 20) -> List[str]:
    """frame (PNG, as decoded), mask (PNG of class ids) and overlay (JPEG), each written whole then renamed."""
    ensure_writable_dir(Path(folder), "--snapshot-dir")
    encoded: List[Tuple[str, bytes]] = []
    for suffix, image in (("frame.png", frame), ("mask.png", mask), ("overlay.jpg", view)):
        ok, buffer = cv2.imencode("." + suffix.rsplit(".", 1)[1], image)
        if not ok:
            raise EdgeUnetError(f"cannot encode the {suffix} of frame {index}")
        encoded.append((suffix, buffer.tobytes()))
    need = sum(len(data) for _, data in encoded)
    used = used_bytes(Path(folder))
    if used + need > quota_bytes:
        raise EdgeUnetError(f"snapshot quota reached: {used >> 20} MiB of {quota_bytes >> 20} MiB in {folder}; "
                            "move the snapshots away or raise the quota")
    stem = f"{PREFIX}{datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}-{index:06d}"
    saved = []
    for suffix, data in encoded:
        target = Path(folder) / f"{stem}-{suffix}"
        atomic_write_bytes(target, data)
        saved.append(target.name)
    return saved
