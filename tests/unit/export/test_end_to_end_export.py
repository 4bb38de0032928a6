"""export --end-to-end's helpers: output names, check frames, the CPU-path agreement, re-wrapping a transformed network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import save_onnx
from edgeunet.export.end_to_end import FrameOptions
from edgeunet.export.end_to_end_export import (
    check_images,
    default_output,
    export_end_to_end,
)
from edgeunet.export.end_to_end_steps import is_end_to_end_file
from tests.unit.export.test_end_to_end import network, rgb_spec


@pytest.mark.parametrize("name,expected", [("best.pt", "best.e2e.onnx"), ("best.onnx", "best.e2e.onnx"),
                                           ("best.int8.onnx", "best.e2e.int8.onnx"), ("m.fp16.onnx", "m.e2e.fp16.onnx")])
def test_default_output_keeps_the_precision_tag_last(name: str, expected: str) -> None:
    assert default_output(Path("runs/x") / name) == Path("runs/x") / expected


def test_synthetic_check_frames_have_the_frame_size() -> None:
    frames, source = check_images(None, FrameOptions((40, 72)), 2)
    assert len(frames) == 2 and frames[0].shape == (40, 72, 3) and frames[0].dtype == np.uint8 and "synthetic" in source


def test_export_from_an_onnx_agrees_with_the_cpu_path(tmp_path: Path) -> None:
    spec = rgb_spec()
    source = save_onnx(network(spec, (32, 48)), tmp_path / "net.onnx")
    result = export_end_to_end(source, None, FrameOptions((72, 100), overlay_alpha=0.5))
    assert result.path == tmp_path / "net.e2e.onnx" and result.agreement == 1.0 and result.frames == 2
    assert is_end_to_end_file(result.path) and not is_end_to_end_file(source) and not is_end_to_end_file(tmp_path / "none.onnx")
    with pytest.raises(EdgeUnetError, match="already an end-to-end model"):
        export_end_to_end(result.path, tmp_path / "again.onnx", FrameOptions((72, 100)))
    with pytest.raises(EdgeUnetError, match="input size is fixed"):
        export_end_to_end(source, tmp_path / "x.onnx", FrameOptions((72, 100)), size=(64, 64))
    with pytest.raises(EdgeUnetError, match="no such file"):
        export_end_to_end(tmp_path / "missing.pt", None, FrameOptions((72, 100)))
    with pytest.raises(EdgeUnetError, match="must end in .onnx"):
        export_end_to_end(source, tmp_path / "x.txt", FrameOptions((72, 100)))
