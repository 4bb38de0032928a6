"""Full-resolution class ids from model-grid logits at a cost that does not grow with the class count.

Why: resizing every logit plane to the frame (cv2.resize, bilinear) and taking the argmax there costs
classes x output pixels (49 ms for 11 classes at 1080p on a Xeon core), more than the model itself.
Bilinear interpolation is a convex combination of the 4 grid neighbours, so where those 4 share one
argmax class c the interpolated argmax is exactly c. So:

  1. argmax at the model grid (cheap: classes x grid pixels);
  2. a grid cell (2x2 neighbours) whose 4 labels agree gives its label to every output pixel it covers
     (a row/column repeat, no per-pixel arithmetic);
  3. only in the cells whose labels differ, the classes that can still win somewhere in the cell are
     interpolated for the output pixels it covers, with cv2.resize's half-pixel geometry (src = (dst + 0.5)
     * scale - 0.5, edges replicated), and the winner is written back. Not just the corner labels: a class
     second at every corner can win between them. A class k can win only if l_k - l_a (bilinear too) is
     >= 0 at some corner for the corner winners a; that leaves 2 candidates in most cells, rarely 3-5.

The result equals argmax(cv2.resize(logits, INTER_LINEAR)) up to float rounding at exact ties
(tests/unit/core/test_upsample.py). Index tables are cached per (grid, output) size.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Tuple

import cv2
import numpy as np


class Geometry(NamedTuple):
    """One axis of the resize: per output index its (edge-padded) grid cell and the weight of the next grid line."""

    cell: np.ndarray  # int64, per output index: padded grid cell (0 .. n), monotonic
    frac: np.ndarray  # float32, per output index: bilinear weight of cell + 1
    counts: np.ndarray  # int64, per padded cell (n + 1): how many output indices fall in it
    starts: np.ndarray  # int64, per padded cell: its first output index
    block: int  # the most output indices one cell covers


@functools.lru_cache(maxsize=16)
def axis_geometry(src: int, dst: int) -> Geometry:
    """cv2.resize INTER_LINEAR's sampling of one axis, on a grid padded by one replicated line each side."""
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5
    pos = pos.astype(np.float32).astype(np.float64)  # OpenCV computes the position in float
    base = np.floor(pos)
    frac = (pos - base).astype(np.float32)
    cell = base.astype(np.int64) + 1  # padded index: -1 -> 0 (the replicated edge)
    counts = np.bincount(cell, minlength=src + 1)[: src + 1]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for array in (cell, frac, counts, starts):
        array.setflags(write=False)
    return Geometry(cell, frac, counts, starts, int(counts.max()) if dst else 0)


def labels_at(logits: np.ndarray, out_hw: Tuple[int, int]) -> np.ndarray:
    """Class ids (uint8, out_hw) of argmax(bilinear(logits)) for CxHxW float logits, C <= 255, without resizing every plane."""
    _, height, width = logits.shape
    gy, gx = axis_geometry(height, int(out_hw[0])), axis_geometry(width, int(out_hw[1]))
    grid = cv2.copyMakeBorder(grid_argmax(logits), 1, 1, 1, 1, cv2.BORDER_REPLICATE)  # labels, edge padded
    corner = grid[:-1, :-1]  # one label per cell (2x2 neighbours), top-left
    uniform = (corner == grid[1:, :-1]) & (corner == grid[:-1, 1:]) & (corner == grid[1:, 1:])
    mask = np.repeat(np.repeat(corner, gx.counts, axis=1), gy.counts, axis=0)
    uniform[gy.counts == 0, :] = True  # cells no output pixel falls in
    uniform[:, gx.counts == 0] = True
    ci, cj = np.nonzero(~uniform)
    if ci.size:
        first = corner[ci, cj]
        other = np.where(grid[ci + 1, cj] != first, grid[ci + 1, cj], np.where(grid[ci, cj + 1] != first, grid[ci, cj + 1], grid[ci + 1, cj + 1]))
        _fix_cells(mask, _Corners(logits, ci, cj), np.stack([first, other]).astype(np.intp), gy, gx)
    return mask


def grid_argmax(logits: np.ndarray) -> np.ndarray:
    """argmax over the class axis (uint8) with OpenCV kernels, plane by plane (ties -> lower id, as np.argmax)."""
    best = logits[0].copy()
    label = np.zeros(best.shape, np.uint8)
    for c in range(1, logits.shape[0]):
        better = cv2.compare(logits[c], best, cv2.CMP_GT)  # 255 where class c leads
        cv2.max(best, logits[c], dst=best)
        cv2.max(label, cv2.bitwise_and(better, c), dst=label)  # every earlier label is < c, so max() writes c
    return label


class _Corners:
    """The 4 corner logits of the given cells, every class: (C, K) each, read from the unpadded grid with clamped indices."""

    def __init__(self, logits: np.ndarray, ci: np.ndarray, cj: np.ndarray) -> None:
        height, width = logits.shape[1:]
        top, bottom = np.clip(ci - 1, 0, height - 1), np.clip(ci, 0, height - 1)
        left, right = np.clip(cj - 1, 0, width - 1), np.clip(cj, 0, width - 1)
        self.ci, self.cj = ci, cj
        self.v00, self.v01 = logits[:, top, left], logits[:, top, right]
        self.v10, self.v11 = logits[:, bottom, left], logits[:, bottom, right]

    def subset(self, keep: np.ndarray) -> "_Corners":
        out = object.__new__(_Corners)
        out.ci, out.cj = self.ci[keep], self.cj[keep]
        out.v00, out.v01, out.v10, out.v11 = self.v00[:, keep], self.v01[:, keep], self.v10[:, keep], self.v11[:, keep]
        return out


def _fix_cells(mask: np.ndarray, corners: _Corners, labels: np.ndarray, gy: Geometry, gx: Geometry) -> None:
    """Decide the output pixels of the cells whose corner labels differ and write them.

    `labels` (2, K): two different corner labels of each cell. A class k can win somewhere in a cell
    only if, against each of them (a), l_k - l_a (itself bilinear) is >= 0 at some corner. Cells with 2 such candidates (most) compare one interpolated
    difference; cells with more interpolate each candidate: the work is per boundary pixel and
    candidate, not per class.
    """
    c = corners
    cells = np.arange(c.ci.size)
    viable = None
    for label in labels:  # k can beat a somewhere in the cell only if l_k - l_a >= 0 at some corner
        ahead = [v - v[label, cells] for v in (c.v00, c.v01, c.v10, c.v11)]
        test = np.maximum(np.maximum(ahead[0], ahead[1]), np.maximum(ahead[2], ahead[3])) >= 0
        viable = test if viable is None else viable & test
    assert viable is not None
    counts = viable.sum(axis=0)
    pairs = counts <= 2  # the two labels themselves are always viable
    if pairs.any():
        _decide_pair(mask, c.subset(pairs), labels[:, pairs], gy, gx)
    for group in (counts > 2) & (counts <= 4), counts > 4:
        if group.any():
            # a class that is not viable can never reach the maximum, so padding the group with some is harmless
            few = int(counts[group].max())
            ids = np.sort(np.argpartition(~viable[:, group], few - 1, axis=0)[:few], axis=0)
            _decide_many(mask, c.subset(group), ids, gy, gx)


class _Tiles:
    """The output pixels of K cells laid side by side as (By, K * Bx) arrays: long rows keep numpy's inner loops long.

    Blocks are padded to the longest by repeating the cell's last row/column: the same pixel, written twice with one value.
    """

    def __init__(self, c: _Corners, gy: Geometry, gx: Geometry, width: int) -> None:
        rows, cols = _block_indices(gy, c.ci), _block_indices(gx, c.cj)  # (K, By), (K, Bx)
        self.bx = cols.shape[1]
        self.fx = gx.frac[cols].ravel()  # (K * Bx,)
        self.fy = np.repeat(gy.frac[rows].T, self.bx, axis=1)  # (By, K * Bx)
        self.flat = np.repeat((rows * width).T, self.bx, axis=1) + cols.ravel()  # index into the raveled mask

    def spread(self, per_cell: np.ndarray) -> np.ndarray:
        return np.repeat(per_cell, self.bx)

    def edges(self, v00: np.ndarray, v01: np.ndarray, v10: np.ndarray, v11: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Per-cell corner values interpolated along x on the cell's top and bottom lines, (K * Bx,) each."""
        top, bottom = self.spread(v00), self.spread(v10)
        return top + (self.spread(v01) - top) * self.fx, bottom + (self.spread(v11) - bottom) * self.fx


def _decide_pair(mask: np.ndarray, c: _Corners, ids: np.ndarray, gy: Geometry, gx: Geometry) -> None:
    """Two candidates a < b: b wins where its interpolated lead l_b - l_a is > 0 (a tie keeps a, as argmax does)."""
    tiles = _Tiles(c, gy, gx, mask.shape[1])
    k = np.arange(c.ci.size)
    a, b = np.minimum(ids[0], ids[1]), np.maximum(ids[0], ids[1])
    top, bottom = tiles.edges(*(v[b, k] - v[a, k] for v in (c.v00, c.v01, c.v10, c.v11)))
    wins = (bottom - top) * tiles.fy > -top  # top + (bottom - top) * fy > 0
    label = np.multiply(wins, tiles.spread((b - a).astype(np.uint8)), dtype=np.uint8)
    label += tiles.spread(a.astype(np.uint8))
    mask.ravel()[tiles.flat] = label


def _decide_many(mask: np.ndarray, c: _Corners, ids: np.ndarray, gy: Geometry, gx: Geometry) -> None:
    """More than two candidates (M, K), ascending: a running maximum, strictly greater to replace (ties -> lower id)."""
    tiles = _Tiles(c, gy, gx, mask.shape[1])
    k = np.arange(c.ci.size)
    best = winner = None
    for cls in ids:
        top, bottom = tiles.edges(*(v[cls, k] for v in (c.v00, c.v01, c.v10, c.v11)))
        value = top + (bottom - top) * tiles.fy
        label = tiles.spread(cls.astype(np.uint8))
        if best is None or winner is None:
            best, winner = value, np.broadcast_to(label, value.shape)
            continue
        winner = np.where(value > best, label, winner)
        np.maximum(best, value, out=best)
    mask.ravel()[tiles.flat] = winner


def _block_indices(axis: Geometry, cells: np.ndarray) -> np.ndarray:
    """Output indices each cell covers (K, longest block), the last one repeated where a block is shorter."""
    offsets = np.arange(max(1, axis.block))[None, :]
    last = axis.counts[cells][:, None] - 1
    return axis.starts[cells][:, None] + np.minimum(offsets, last)
