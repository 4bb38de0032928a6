"""Large frames at native resolution: whole (`--size native`) or in overlapping tiles (`--tile 512 --overlap 64`).

Why tiles: a 2048x2048 frame at native scale may not fit the device, and a static-shape engine takes one fixed
size; tiles of that size cover any frame. Overlaps are blended with weights that fall linearly towards each
tile's edge, so a pixel is decided mostly by the tile that sees the most context around it, and no seam shows.
Numpy only (edge path): works through any backend's `run`.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.processing import logit_threshold, preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.segmenter import Segmenter


def native_spec(spec: ModelSpec, source: str = "model") -> ModelSpec:
    """The same model fed frames at their own resolution (padded to its size multiple) instead of resized."""
    return spec if spec.resize == "native" else spec.replaced(source, resize="native")


def tile_starts(length: int, tile: int, overlap: int) -> List[int]:
    """Tile origins along one side: stride tile - overlap, the last tile flush with the far edge."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _edge_ramp(tile: int, overlap: int) -> np.ndarray:
    """1 in the middle, falling linearly to 1/(overlap+1) over the last `overlap` pixels on both ends."""
    ramp = np.ones(tile, dtype=np.float32)
    if overlap > 0:
        rise = np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)
        ramp[:overlap] = np.minimum(ramp[:overlap], rise)
        ramp[-overlap:] = np.minimum(ramp[-overlap:], rise[::-1])
    return ramp


class TiledPredictor:
    """frame -> class-id mask, by blending class probabilities of overlapping tiles of `tile` x `tile` pixels."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], spec: ModelSpec, tile: int, overlap: int) -> None:
        if spec.io != "float":
            raise EdgeUnetError("--tile needs a float-I/O model (logits to blend); export without --io uint8")
        if tile < 16 or tile % spec.size_multiple:
            raise EdgeUnetError(f"--tile {tile}: must be a multiple of {spec.size_multiple} and at least 16")
        if not 0 <= overlap < tile // 2:
            raise EdgeUnetError(f"--overlap {overlap}: must be within 0..{tile // 2 - 1} for --tile {tile}")
        self.run = run
        self.spec = native_spec(spec)
        self.tile = tile
        self.overlap = overlap
        ramp = _edge_ramp(tile, overlap)
        self.window = np.outer(ramp, ramp)

    def _probabilities(self, crop: np.ndarray) -> np.ndarray:
        """Class probabilities (K x h x w; one channel for a binary model) of one tile."""
        logits = np.asarray(self.run(preprocess(crop, self.spec)), dtype=np.float32)[0]
        logits = logits[:, : crop.shape[0], : crop.shape[1]]
        if self.spec.is_binary:
            return logits  # blended as logits; the decision below is logits > logit(threshold)
        shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
        return shifted / shifted.sum(axis=0, keepdims=True)

    def predict(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        total: Optional[np.ndarray] = None
        weight = np.zeros((height, width), dtype=np.float32)
        for top in tile_starts(height, self.tile, self.overlap):
            for left in tile_starts(width, self.tile, self.overlap):
                crop = frame[top : top + self.tile, left : left + self.tile]
                probs = self._probabilities(crop)
                w = self.window[: crop.shape[0], : crop.shape[1]]
                if total is None:
                    total = np.zeros((probs.shape[0], height, width), dtype=np.float32)
                total[:, top : top + crop.shape[0], left : left + crop.shape[1]] += probs * w
                weight[top : top + crop.shape[0], left : left + crop.shape[1]] += w
        assert total is not None
        blended = total / weight
        if self.spec.is_binary:
            return (blended[0] > logit_threshold(self.spec)).astype(np.uint8)
        return np.argmax(blended, axis=0).astype(np.uint8)


def frame_predictor(seg: Segmenter, size: Optional[str], tile: Optional[int], overlap: int) -> Callable[[np.ndarray], np.ndarray]:
    """How evaluate/infer turn a frame into a mask: the model's own preprocessing, native, or tiled."""
    if size not in (None, "model", "native"):
        raise EdgeUnetError(f"--size {size}: choose native (the whole frame at its own resolution) or leave it out")
    if tile is not None:
        return TiledPredictor(seg.backend.run, seg.spec, tile, overlap).predict
    if size == "native":
        seg.spec = native_spec(seg.spec)
    return seg.predict
