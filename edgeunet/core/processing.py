"""The one preprocessing and postprocessing used by training, calibration, evaluation and inference.

Numpy + OpenCV only (it runs on the edge path). Keeping a single implementation is what makes the
accuracy gate meaningful: calibration images are prepared exactly as frames are at inference.
"""

from __future__ import annotations

import math
import sys
from typing import Optional, Set, Tuple

import cv2
import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import END_TO_END, IGNORE_LABEL, ModelSpec
from edgeunet.core.upsample import grid_argmax, labels_at


def to_model_channels(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Convert a gray or BGR uint8 image to the model's channel layout (HxW for gray, HxWx3 RGB)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        shape = "x".join(map(str, image.shape))
        raise EdgeUnetError(f"image of shape {shape}: expected gray (HxW) or colour (HxWx3) pixels; save it as gray or RGB")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if spec.in_channels == 1:
        return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def letterbox_size(frame_hw: Tuple[int, int], spec: ModelSpec) -> Tuple[int, int]:
    """(height, width) a frame takes inside the model input: the input size (stretch) or the aspect-kept fit (letterbox)."""
    if spec.resize == "native":
        return int(frame_hw[0]), int(frame_hw[1])
    height, width = spec.input_size
    if spec.resize != "letterbox":
        return height, width
    scale = min(height / frame_hw[0], width / frame_hw[1])
    return min(height, max(1, round(frame_hw[0] * scale))), min(width, max(1, round(frame_hw[1] * scale)))


def native_input_size(frame_hw: Tuple[int, int], spec: ModelSpec) -> Tuple[int, int]:
    """A native-resolution frame's sides rounded up to the model's size multiple (what the graph is fed)."""
    m = max(1, spec.size_multiple)
    return -(-frame_hw[0] // m) * m, -(-frame_hw[1] // m) * m


def _fit(image: np.ndarray, spec: ModelSpec, interpolation: int, pad_value: int) -> np.ndarray:
    if spec.resize == "native":  # no resampling: pad bottom/right up to the size multiple
        height, width = native_input_size((image.shape[0], image.shape[1]), spec)
        if (height, width) == image.shape[:2]:
            return image
        return cv2.copyMakeBorder(image, 0, height - image.shape[0], 0, width - image.shape[1], cv2.BORDER_CONSTANT, value=pad_value)
    height, width = spec.input_size
    if image.shape[0] == height and image.shape[1] == width:
        return image
    inner_h, inner_w = letterbox_size((image.shape[0], image.shape[1]), spec)
    resized = cv2.resize(image, (inner_w, inner_h), interpolation=interpolation)
    if (inner_h, inner_w) == (height, width):
        return resized
    # Letterbox pads bottom/right, so undoing it is a crop of the top-left corner (no offsets to carry around).
    return cv2.copyMakeBorder(resized, 0, height - inner_h, 0, width - inner_w, cv2.BORDER_CONSTANT, value=pad_value)


def resize_to_input(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """An image (model channels) at the model's input size, stretched or letterboxed as the model was trained."""
    return _fit(image, spec, cv2.INTER_LINEAR, 0)


def mask_to_input(mask: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """A class-id mask resized like its image; letterbox padding is IGNORE_LABEL, so it counts in no loss or metric."""
    return _fit(mask, spec, cv2.INTER_NEAREST, IGNORE_LABEL)


def normalize(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """uint8 HxW[xC] (model channels, model size) -> float32 CxHxW, (x/255 - mean) / std."""
    std = np.asarray(spec.std, dtype=np.float32)
    mean = np.asarray(spec.mean, dtype=np.float32)
    scale = 1.0 / (255.0 * std)
    offset = -mean / std
    if image.ndim == 2:
        out = image.astype(np.float32) * scale[0] + offset[0]
        return out[None]
    chw = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    return chw * scale[:, None, None] + offset[:, None, None]


def preprocess(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """A decoded frame (gray or BGR uint8, any size) -> the graph's input tensor, batch of one.

    float I/O: NCHW float32 normalised; uint8 I/O: NHWC uint8 (normalisation is inside the graph).
    """
    if image.dtype != np.uint8:
        raise EdgeUnetError(f"expected an 8-bit image, got {image.dtype}")
    if spec.io == END_TO_END:
        return frame_tensor(image, spec)
    if spec.in_channels == 3 and image.ndim == 3 and image.shape[2] == 3 and spec.resize != "native":
        # BGR -> RGB is a channel permutation, which commutes exactly with a per-channel resize: swap the small image,
        # not the camera frame (one full-frame copy less per frame)
        prepared = to_model_channels(resize_to_input(image, spec), spec)
    else:
        prepared = resize_to_input(to_model_channels(image, spec), spec)
    if spec.io == "uint8":
        return np.ascontiguousarray(prepared.reshape(1, prepared.shape[0], prepared.shape[1], spec.in_channels))
    return normalize(prepared, spec)[None]


_RESIZE_WARNED: Set[Tuple[int, int, int, int]] = set()


def frame_tensor(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """An end-to-end model's input: the BGR frame as 1xHxWx3, no copy when it already has the model's frame size.

    A frame of another size is resized here, on the CPU (one line on stderr the first time), rather than refused:
    `infer`/`evaluate` then still take any image, and a camera that does not honour its mode still streams.
    """
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    height, width = spec.frame_size
    if image.shape[:2] != (height, width):
        key = (image.shape[0], image.shape[1], height, width)
        if key not in _RESIZE_WARNED:
            _RESIZE_WARNED.add(key)
            print(f"warning: frames are {image.shape[1]}x{image.shape[0]} but the end-to-end model takes {width}x{height}: "
                  f"each frame is resized on the CPU first (re-export with --frame-size {image.shape[0]}x{image.shape[1]})",
                  file=sys.stderr)
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    batch = np.ascontiguousarray(image)[None]
    return batch.astype(np.float32) if spec.frame_dtype == "float32" else batch


def overlay_image(output: np.ndarray) -> np.ndarray:
    """An end-to-end model's overlay output (1xHxWx3; uint8, or float already rounded and clipped in the 8.5 variant) as HxWx3 uint8."""
    view = np.asarray(output)
    view = view.reshape(view.shape[-3:])
    return view if view.dtype == np.uint8 else view.astype(np.uint8)


def frame_mask(output: np.ndarray, out_hw: Optional[Tuple[int, int]]) -> np.ndarray:
    """An end-to-end model's mask (already at frame size) as uint8 HxW; nearest-resized only for a resized frame."""
    mask = np.asarray(output)
    mask = mask.reshape(mask.shape[-2:])
    if mask.dtype != np.uint8:
        mask = mask.astype(np.uint8)  # the float32-frame variant returns INT32 class ids (TensorRT 8.5 has no UINT8)
    if out_hw is not None and mask.shape != (int(out_hw[0]), int(out_hw[1])):
        mask = cv2.resize(mask, (int(out_hw[1]), int(out_hw[0])), interpolation=cv2.INTER_NEAREST)
    return mask


def logit_threshold(spec: ModelSpec) -> float:
    """Comparing logits with logit(t) equals comparing sigmoid(logits) with t, without the sigmoid."""
    t = min(max(spec.threshold, 1e-6), 1 - 1e-6)
    return math.log(t / (1 - t))


UPSAMPLE_MODES = ("fast", "logits")


def check_upsample(mode: str) -> str:
    if mode not in UPSAMPLE_MODES:
        raise EdgeUnetError(f"--upsample {mode}: choose from {', '.join(UPSAMPLE_MODES)}")
    return mode


def postprocess(output: np.ndarray, spec: ModelSpec, out_hw: Optional[Tuple[int, int]] = None, upsample: str = "fast") -> np.ndarray:
    """The graph's output for one image -> class-id mask (uint8 HxW) at `out_hw` (default: model size).

    The decision is taken on bilinearly resized logits, so edges at the frame's resolution are smooth.
    upsample "fast" (default) gives the same mask without resizing every logit plane (edgeunet.core.upsample:
    the work is per boundary pixel, not per class x pixel); "logits" resizes them all (the reference).
    A uint8 mask from a fused graph can only be resized nearest-neighbour.
    """
    if spec.io == END_TO_END:
        return frame_mask(output, out_hw)
    out = np.asarray(output)
    if out.ndim == 4:
        out = out[0]
    if out.ndim == 3 and out.shape[0] == 1 and (spec.io == "uint8" or spec.is_binary):
        out = out[0]
    target = None if out_hw is None else (int(out_hw[1]), int(out_hw[0]))
    if target is not None and spec.resize in ("letterbox", "native"):
        inner_h, inner_w = letterbox_size((target[1], target[0]), spec)
        out = out[..., :inner_h, :inner_w]  # un-pad: the frame sits in the top-left corner
    if out.dtype == np.uint8:
        mask = out
        if target is not None and (mask.shape[1], mask.shape[0]) != target:
            mask = cv2.resize(mask, target, interpolation=cv2.INTER_NEAREST)
        return mask
    logits = out.astype(np.float32, copy=False)
    if check_upsample(upsample) == "fast":
        return _fast_labels(logits, spec, target)
    if logits.ndim == 2:
        if target is not None and (logits.shape[1], logits.shape[0]) != target:
            logits = cv2.resize(logits, target, interpolation=cv2.INTER_LINEAR)
        return (logits > logit_threshold(spec)).astype(np.uint8)
    hwc = logits.transpose(1, 2, 0)
    if target is not None and (hwc.shape[1], hwc.shape[0]) != target:
        hwc = cv2.resize(np.ascontiguousarray(hwc), target, interpolation=cv2.INTER_LINEAR)
        if hwc.ndim == 2:
            hwc = hwc[:, :, None]
    return np.argmax(hwc, axis=2).astype(np.uint8)


def _fast_labels(logits: np.ndarray, spec: ModelSpec, target: Optional[Tuple[int, int]]) -> np.ndarray:
    """A binary logit becomes two planes (threshold, logit): argmax then equals `logit > threshold`, ties included."""
    if logits.ndim == 2:
        logits = np.stack([np.full(logits.shape, logit_threshold(spec), np.float32), logits])
    if target is None or (logits.shape[2], logits.shape[1]) == target:
        return grid_argmax(logits)
    return labels_at(logits, (target[1], target[0]))


def probabilities(output: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Per-pixel class probabilities (sigmoid or softmax) of float logits, for parity checks."""
    logits = np.asarray(output, dtype=np.float64)
    if spec.is_binary:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=-3, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-3, keepdims=True)
