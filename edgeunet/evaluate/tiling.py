"""Large frames at native resolution: whole (`--size native`) or in overlapping tiles (`--tile 512 --overlap 64`).

Why tiles: a 2048x2048 frame at native scale may not fit the device, and a static-shape engine takes one fixed
size; tiles of that size cover any frame. Overlaps are blended with weights that fall linearly towards each
tile's edge, so a pixel is decided mostly by the tile that sees the most context around it, and no seam shows.
Numpy only (edge path): works through any backend's `run`.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

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


def fixed_input_hw(backend: Any, spec: ModelSpec) -> Optional[Tuple[int, int]]:
    """The graph's (H, W) when the ONNX/engine input is static, None when it takes any size (dynamic, torch)."""
    shape = list(getattr(backend, "input_shape", None) or [])
    if len(shape) != 4:
        return None
    height, width = (shape[1], shape[2]) if spec.io != "float" else (shape[2], shape[3])  # NHWC for uint8 and end-to-end
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        return height, width
    return None


def check_fits_fixed_input(backend: Any, spec: ModelSpec, size: Optional[str], tile: Optional[int]) -> None:
    """A static-shape model takes one size only: refuse --size native and off-size tiles up front, in one line."""
    if spec.end_to_end and (tile is not None or size == "native"):
        flag = f"--tile {tile}" if tile is not None else "--size native"
        raise EdgeUnetError(f"{flag}: an end-to-end model takes whole frames at {spec.frame_size[0]}x{spec.frame_size[1]} "
                            "(others are resized to it); drop the option or use the network ONNX")
    fixed = fixed_input_hw(backend, spec)
    if fixed is None:
        return
    height, width = fixed
    redo = "re-export with `edgeunet export CHECKPOINT --dynamic` (and rebuild the engine from it)"
    if tile is not None and (tile, tile) != fixed:
        hint = f"use --tile {height}" if height == width else redo
        raise EdgeUnetError(f"--tile {tile}: this model's input is fixed at {height}x{width}; {hint}")
    if tile is None and size == "native":
        raise EdgeUnetError(
            f"--size native: this model's input is fixed at {height}x{width}, it cannot take whole frames; "
            f"{redo}, or use --tile{f' {height}' if height == width else ''}"
        )


def frame_predictor(seg: Segmenter, size: Optional[str], tile: Optional[int], overlap: int) -> Callable[[np.ndarray], np.ndarray]:
    """How evaluate/infer turn a frame into a mask: the model's own preprocessing, native, or tiled."""
    if size not in (None, "model", "native"):
        raise EdgeUnetError(f"--size {size}: choose native (the whole frame at its own resolution) or leave it out")
    check_fits_fixed_input(seg.backend, seg.spec, size, tile)
    if tile is not None:
        return TiledPredictor(seg.backend.run, seg.spec, tile, overlap).predict
    if size == "native":
        seg.spec = native_spec(seg.spec)
    return seg.predict
