"""build-engine's pure helpers (the command itself runs under tests/trtsim)."""

from __future__ import annotations

from pathlib import Path

from edgeunet.core.spec import ModelSpec
from edgeunet.export.build_engine import default_engine_path, default_shape


def test_default_shape_per_io() -> None:
    assert default_shape(ModelSpec(input_size=[64, 96])) == (1, 1, 64, 96)
    assert default_shape(ModelSpec(input_size=[64, 96], io="uint8")) == (1, 64, 96, 1)
    e2e = ModelSpec(input_size=[64, 96], io="end-to-end", frame_size=[1080, 1920])
    assert default_shape(e2e) == (1, 1080, 1920, 3)  # the profile is the camera frame, not the network's input


def test_engine_names_keep_the_end_to_end_tag() -> None:
    assert default_engine_path(Path("best.e2e.int8.onnx"), "int8") == Path("best.e2e.int8.engine")
    assert default_engine_path(Path("best.e2e.onnx"), "fp16") == Path("best.e2e.fp16.engine")
