"""trt/plan.py: per-version build decisions as plain functions (no TensorRT imported; tests/unit/trt/test_build.py
covers the main plan_build matrix, this file the helpers and the edges it leaves out)."""

from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.trt.plan import (
    BuildPlan,
    ShapeProfile,
    always_strongly_typed,
    check_supported,
    format_version,
    parse_shapes,
    parse_version,
    plan_build,
    resolve_profile,
    strongly_typed_available,
)

TRT86, TRT103, TRT11 = (8, 6, 1), (10, 3, 0), (11, 1, 0)


def test_version_text_round_trip_and_minimum() -> None:
    assert parse_version(" 10 ") == (10, 0, 0) and parse_version("8.6") == (8, 6, 0)
    assert format_version(parse_version("10.3.0.30")) == "10.3.0"
    check_supported((8, 5, 0))  # the oldest supported release passes
    with pytest.raises(EdgeUnetError, match=r"TensorRT 8\.4\.9 is too old"):
        check_supported((8, 4, 9))
    with pytest.raises(EdgeUnetError, match="cannot read the TensorRT version ''"):
        parse_version("")


def test_strong_typing_availability() -> None:
    assert not strongly_typed_available(TRT86) and strongly_typed_available(TRT103) and strongly_typed_available(TRT11)
    assert not always_strongly_typed(TRT103) and always_strongly_typed(TRT11)


def test_shape_profile() -> None:
    static = ShapeProfile((1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 8, 8))
    assert static.is_static and static.to_dict() == {"min": [1, 1, 8, 8], "opt": [1, 1, 8, 8], "max": [1, 1, 8, 8]}
    assert not ShapeProfile((1, 1), (2, 1), (2, 1)).is_static


def test_parse_shapes_separators_and_messages() -> None:
    assert parse_shapes("1X1*8x8").min == (1, 1, 8, 8)  # x, X and * all separate dimensions
    assert parse_shapes("1x1x8x8,,2x1x8x8,4x1x8x8,").max == (4, 1, 8, 8)  # empty pieces ignored
    with pytest.raises(EdgeUnetError, match=r"^--opt: 'axb' is not a shape"):
        parse_shapes("axb", "--opt")
    with pytest.raises(EdgeUnetError, match="expected min,opt,max .* got ''"):
        parse_shapes("")
    with pytest.raises(EdgeUnetError, match="'xx' needs positive dimensions"):
        parse_shapes("xx")


def test_resolve_profile_edges() -> None:
    profile = resolve_profile([0, 1, -1, 8], None, (2, 1, 16, 8))  # <= 0 dims are dynamic, filled from the default
    assert profile == ShapeProfile((2, 1, 16, 8), (2, 1, 16, 8), (2, 1, 16, 8))
    with pytest.raises(EdgeUnetError, match="rank 4 does not match"):
        resolve_profile([None, 1, 8, 8], None, (1, 8, 8))
    with pytest.raises(EdgeUnetError, match="--shapes max 1x1x8x9: dimension 3 is fixed to 8"):
        resolve_profile([None, 1, 8, 8], parse_shapes("1x1x8x8,1x1x8x8,1x1x8x9"), (1, 1, 8, 8))


def test_build_plan_flags() -> None:
    plan = BuildPlan(version=TRT86, precision="int8", onnx_precision="fp32", explicit_batch=True, strongly_typed=False,
                     fp16_flag=True, int8_flag=True, gpu_fallback=True)
    assert plan.builder_flags == ["FP16", "INT8", "GPU_FALLBACK"] and plan.network_flags == ["EXPLICIT_BATCH"]
    assert BuildPlan(version=TRT11, precision="fp16", onnx_precision="fp16", strongly_typed=True).network_flags == []


def test_plan_build_edges() -> None:
    with pytest.raises(EdgeUnetError, match="unknown ONNX precision 'bf16'"):
        plan_build(TRT103, "bf16")
    fp16_onnx = plan_build(TRT103, "fp16")
    assert fp16_onnx.precision == "fp16" and fp16_onnx.builder_flags == ["FP16"]  # an fp16 ONNX sets FP16 by itself
    both = plan_build(TRT103, "int8", fp16=True, int8=True, strongly_typed=True)
    assert both.builder_flags == [] and any("strongly typed" in note for note in both.notes)
    dla = plan_build(TRT103, "int8", int8=True, dla_core=0)  # explicit Q/DQ on the DLA is fine from 10
    assert dla.gpu_fallback and any(note.startswith("DLA") for note in dla.notes)
    assert plan_build(TRT103, "fp32").workspace_bytes is None and plan_build(TRT103, "fp32").notes == ()
