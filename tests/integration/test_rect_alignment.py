"""Issue 13: a rectangular model sees a 768x576 frame and its mask lands where the objects are, for stretch and letterbox.

The "model" is a hand-built ONNX whose logit is the normalised intensity (bright = class 1), so the right mask is
known exactly: any misplaced resize, letterbox offset or crop shows up as a shifted mask, not as a weak model.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeunet.core.onnx_model import KEY_PRECISION, KEY_SPEC, set_metadata
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.segmenter import Segmenter
from tests.conftest import run_cli

FRAME_H, FRAME_W = 576, 768  # vtest.avi's size
BOXES = [(40, 60, 200, 330), (300, 500, 560, 740), (10, 600, 90, 760)]  # (y0, x0, y1, x1): corners, far right, bottom


def _brightness_onnx(path: Path, size: tuple, resize: str) -> Path:
    height, width = size
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["logits"])], "brightness",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, height, width])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    spec = ModelSpec(input_size=[height, width], resize=resize, class_names=["dark", "bright"])  # logit > 0 <=> pixel > 127.5
    set_metadata(model, {KEY_SPEC: spec.to_json(), KEY_PRECISION: "fp32"})
    onnx.save(model, str(path))
    return path


def _frame() -> tuple:
    frame = np.full((FRAME_H, FRAME_W, 3), 30, np.uint8)
    truth = np.zeros((FRAME_H, FRAME_W), np.uint8)
    for y0, x0, y1, x1 in BOXES:
        frame[y0:y1, x0:x1] = 230
        truth[y0:y1, x0:x1] = 1
    return frame, truth


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


# 288x384 keeps 768x576's aspect; 240x384 forces letterbox padding on the right (frame fills 240x320).
@pytest.mark.parametrize(("size", "resize"), [((288, 384), "stretch"), ((240, 384), "letterbox"), ((240, 384), "stretch")])
def test_mask_is_frame_sized_and_aligned(tmp_path: Path, size: tuple, resize: str) -> None:
    frame, truth = _frame()
    seg = Segmenter(_brightness_onnx(tmp_path / "m.onnx", size, resize))
    mask = seg.predict(frame)
    seg.close()
    assert mask.shape == (FRAME_H, FRAME_W)
    iou = _iou(mask == 1, truth == 1)
    assert iou > 0.97, f"{resize} {size}: IoU {iou:.3f} with the drawn boxes"
    # no edge is shifted: the centroid of every box lands within 2 frame pixels
    for y0, x0, y1, x1 in BOXES:
        ys, xs = np.nonzero(mask[y0:y1, x0:x1])
        assert abs(ys.mean() - (y1 - y0 - 1) / 2) < 2 and abs(xs.mean() - (x1 - x0 - 1) / 2) < 2


def test_stream_writes_every_frame_at_source_size_with_aligned_masks(tmp_path: Path) -> None:
    """The CLI path: a 768x576 video through a letterboxed 240x384 model, every frame out at 768x576, masks on the boxes."""
    frame, truth = _frame()
    video = tmp_path / "boxes.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (FRAME_W, FRAME_H))
    for _ in range(8):
        writer.write(frame)
    writer.release()
    model = _brightness_onnx(tmp_path / "lb.onnx", (240, 384), "letterbox")
    out_dir = tmp_path / "frames"
    proc = run_cli("stream", model, video, "-o", f"{out_dir}/", "--overlay", "mask", "--no-hud", "--stats", tmp_path / "s.json")
    assert proc.returncode == 0, proc.stderr
    written = sorted(out_dir.glob("*.jpg"))
    assert len(written) == 8 == json.loads((tmp_path / "s.json").read_text())["frames"]
    for path in written:
        out = cv2.imread(str(path))
        assert out.shape[:2] == (FRAME_H, FRAME_W)
        coloured = out.astype(int).sum(axis=2) > 60  # class colour where bright, black elsewhere
        assert _iou(coloured, truth == 1) > 0.95
