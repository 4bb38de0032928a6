"""Per-version TensorRT decisions, shapes, calibration cache, sidecar checks: all plain functions, no TensorRT needed.

Nothing here imports tensorrt or pycuda, and nothing fakes them: the TensorRT-facing code is checked by
`mypy --strict` against tensorrt-stubs (make typecheck), and by the `tensorrt`-marked tests where it is installed.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.splits import sample_images as select_images
from edgeunet.export.build_engine import BuildOptions, command_line, default_engine_path, default_shape
from edgeunet.trt.calibration import cache_paths, parse_calibration_cache
from edgeunet.trt.plan import (
    ShapeProfile,
    has_implicit_calibrators,
    has_precision_flags,
    needs_explicit_batch_flag,
    parse_shapes,
    parse_version,
    plan_build,
    resolve_profile,
)
from edgeunet.trt.sidecar import check_compatible, check_engine_file, read_sidecar, sidecar_path, write_sidecar

TRT85, TRT86, TRT103, TRT11 = (8, 5, 2), (8, 6, 1), (10, 3, 0), (11, 4, 0)


def test_parse_version() -> None:
    assert parse_version("8.5.2.2") == (8, 5, 2)
    assert parse_version("10.3.0.30") == (10, 3, 0)
    assert parse_version("11.4") == (11, 4, 0)
    with pytest.raises(EdgeUnetError, match=r"^cannot read the TensorRT version 'unknown'; reinstall TensorRT$"):
        parse_version("unknown")


def test_parse_shapes_spellings() -> None:
    assert parse_shapes("1X1X8X8") == parse_shapes("1*1*8*8x") == ShapeProfile((1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 8, 8))
    with pytest.raises(EdgeUnetError, match=r"^--shapes: 'ax1' is not a shape"):
        parse_shapes("ax1")


def test_implicit_calibrators_from_85_on() -> None:
    from edgeunet.trt.plan import has_implicit_calibrators

    assert has_implicit_calibrators((8, 5, 0)) and has_implicit_calibrators((10, 3, 0)) and not has_implicit_calibrators((11, 0, 0))
    assert not has_implicit_calibrators((8, 4, 9))


def test_shape_profile_to_dict() -> None:
    assert ShapeProfile((1, 3), (2, 3), (4, 3)).to_dict() == {"min": [1, 3], "opt": [2, 3], "max": [4, 3]}


def test_version_capabilities() -> None:
    assert needs_explicit_batch_flag(TRT85) and needs_explicit_batch_flag(TRT86)
    assert not needs_explicit_batch_flag(TRT103) and not needs_explicit_batch_flag(TRT11)
    assert has_precision_flags(TRT85) and has_precision_flags(TRT103) and not has_precision_flags(TRT11)
    assert has_implicit_calibrators(TRT85) and has_implicit_calibrators(TRT103) and not has_implicit_calibrators(TRT11)
    assert not has_implicit_calibrators((8, 4, 3))


def test_too_old_tensorrt_is_refused() -> None:
    with pytest.raises(EdgeUnetError, match="8.5 or newer"):
        plan_build((8, 4, 3), "fp32")


def test_plan_fp32_per_version() -> None:
    p85 = plan_build(TRT85, "fp32")
    assert p85.network_flags == ["EXPLICIT_BATCH"] and p85.builder_flags == [] and p85.precision == "fp32"
    assert plan_build(TRT103, "fp32").network_flags == []
    p11 = plan_build(TRT11, "fp32")
    assert p11.network_flags == [] and p11.strongly_typed  # always on in 11, no flag name to set


def test_plan_fp16_flag_up_to_10_fp16_onnx_on_11() -> None:
    assert plan_build(TRT85, "fp32", fp16=True).builder_flags == ["FP16"]
    assert plan_build(TRT103, "fp32", fp16=True).builder_flags == ["FP16"]
    with pytest.raises(EdgeUnetError) as info:
        plan_build(TRT11, "fp32", fp16=True)
    assert str(info.value) == ("a strongly typed FP16 engine (TensorRT 11.4.0) needs an fp16-typed ONNX; "
                               "run `edgeunet convert --fp16` first")
    p11 = plan_build(TRT11, "fp16", fp16=True)
    assert p11.builder_flags == [] and p11.precision == "fp16"


def test_plan_strongly_typed_optional_on_10_only() -> None:
    p = plan_build(TRT103, "fp16", fp16=True, strongly_typed=True)
    assert p.network_flags == ["STRONGLY_TYPED"] and p.builder_flags == []
    with pytest.raises(EdgeUnetError, match="TensorRT 10 or newer"):
        plan_build(TRT85, "fp16", fp16=True, strongly_typed=True)


def test_plan_int8_qdq_everywhere() -> None:
    for version in (TRT85, TRT103):
        # weakly typed: FP16 beside INT8 by default (layers outside Q/DQ pairs run in FP16, trtexec --int8 --fp16)
        plan = plan_build(version, "int8", int8=True)
        assert plan.builder_flags == ["FP16", "INT8"] and plan.implicit_calibrator is None and plan.precision == "int8"
        assert any("FP16 beside it" in note for note in plan.notes)
        only = plan_build(version, "int8", int8=True, int8_fp16=False)
        assert only.builder_flags == ["INT8"] and only.precision == "int8" and not only.notes
    implicit = plan_build(TRT85, "fp32", int8=True, calibrator="entropy")
    assert implicit.builder_flags == ["FP16", "INT8"] and implicit.precision == "int8"
    assert plan_build(TRT103, "int8", int8=True, fp16=True).builder_flags == ["FP16", "INT8"]
    p11 = plan_build(TRT11, "int8", int8=True)
    assert p11.builder_flags == [] and p11.precision == "int8"
    # a Q/DQ ONNX is INT8 whatever the flags say
    assert plan_build(TRT103, "int8").precision == "int8"
    with pytest.raises(EdgeUnetError, match="Q/DQ ONNX"):
        plan_build(TRT103, "fp32", int8=True, calibrator="qdq")


def test_plan_implicit_calibrators() -> None:
    for version in (TRT85, TRT86, TRT103):
        for method in ("entropy", "minmax"):
            plan = plan_build(version, "fp32", int8=True, calibrator=method)
            assert plan.implicit_calibrator == method and "INT8" in plan.builder_flags
    with pytest.raises(EdgeUnetError, match="not in TensorRT 11"):
        plan_build(TRT11, "fp32", int8=True, calibrator="entropy")
    with pytest.raises(EdgeUnetError, match="already int8"):
        plan_build(TRT103, "int8", int8=True, calibrator="entropy")
    with pytest.raises(EdgeUnetError, match="strongly typed"):
        plan_build(TRT103, "fp32", int8=True, calibrator="minmax", strongly_typed=True)


def test_plan_dla_rules() -> None:
    static = ShapeProfile((1, 1, 64, 64), (1, 1, 64, 64), (1, 1, 64, 64))
    plan = plan_build(TRT85, "fp32", int8=True, calibrator="entropy", dla_core=0, profile=static)
    assert plan.dla_core == 0 and "GPU_FALLBACK" in plan.builder_flags
    assert plan_build(TRT103, "fp32", fp16=True, dla_core=1).gpu_fallback
    with pytest.raises(EdgeUnetError, match="FP16 or INT8"):
        plan_build(TRT103, "fp32", dla_core=0)
    with pytest.raises(EdgeUnetError, match="static shapes"):
        plan_build(TRT103, "fp32", fp16=True, dla_core=0, profile=ShapeProfile((1, 1, 64, 64), (2, 1, 64, 64), (4, 1, 64, 64)))
    with pytest.raises(EdgeUnetError, match="implicit calibration"):
        plan_build(TRT85, "int8", int8=True, dla_core=0)
    with pytest.raises(EdgeUnetError, match="numbered from 0"):
        plan_build(TRT103, "fp32", fp16=True, dla_core=-1)


def test_plan_workspace_and_bad_options() -> None:
    assert plan_build(TRT103, "fp32", workspace_mib=512).workspace_bytes == 512 << 20
    with pytest.raises(EdgeUnetError, match="positive"):
        plan_build(TRT103, "fp32", workspace_mib=0)
    with pytest.raises(EdgeUnetError, match="choose from"):
        plan_build(TRT103, "fp32", int8=True, calibrator="percentile")


def test_parse_shapes() -> None:
    profile = parse_shapes("1x1x256x256,4x1x256x256,8x1x256x256")
    assert profile.min == (1, 1, 256, 256) and profile.max == (8, 1, 256, 256) and not profile.is_static
    assert parse_shapes("1x3x64x64").is_static  # one shape: a static profile
    for bad in ("1x1x256x256,2x1x256x256", "axb,1x1,1x1", "0x1x8x8,1x1x8x8,1x1x8x8", "4x1x8x8,1x1x8x8,8x1x8x8",
                "1x1x8x8,1x1x8,1x1x8x8"):
        with pytest.raises(EdgeUnetError, match="--shapes"):
            parse_shapes(bad)


def test_resolve_profile() -> None:
    assert resolve_profile([1, 1, 64, 64], None, (1, 1, 64, 64)) is None  # static ONNX: no profile needed
    dynamic = resolve_profile([None, 1, None, None], None, (1, 1, 64, 64))
    assert dynamic == ShapeProfile((1, 1, 64, 64), (1, 1, 64, 64), (1, 1, 64, 64))
    wanted = parse_shapes("1x1x64x64,2x1x128x128,4x1x256x256")
    assert resolve_profile([None, 1, None, None], wanted, (1, 1, 64, 64)) == wanted
    with pytest.raises(EdgeUnetError, match="fixed to 1"):
        resolve_profile([1, 1, 64, 64], parse_shapes("2x1x64x64"), (1, 1, 64, 64))
    with pytest.raises(EdgeUnetError, match="dimensions"):
        resolve_profile([1, 1, 64, 64], parse_shapes("1x64x64"), (1, 1, 64, 64))


def test_default_names_and_shapes() -> None:
    assert default_engine_path(Path("runs/x/best.int8.onnx"), "int8") == Path("runs/x/best.int8.engine")
    assert default_engine_path(Path("best.onnx"), "fp16") == Path("best.fp16.engine")
    assert default_shape(ModelSpec(in_channels=3, mean=[0.5] * 3, std=[0.25] * 3, input_size=[32, 48])) == (1, 3, 32, 48)
    assert default_shape(ModelSpec(io="uint8", input_size=[32, 48])) == (1, 32, 48, 1)
    assert sidecar_path(Path("a/m.int8.plan")) == Path("a/m.int8.plan.json")


def test_command_line_is_the_target_rebuild_command() -> None:
    opts = BuildOptions(onnx=Path("m.onnx"), int8=True, calib_data=Path("calib dir"), workspace=512, shapes="1x1x8x8")
    line = command_line(Path("m.int8.onnx"), Path("m.int8.engine"), opts, "int8", calibrated=True)
    assert line == "edgeunet build-engine m.int8.onnx --int8 --out m.int8.engine --workspace 512 --shapes 1x1x8x8"
    implicit = BuildOptions(onnx=Path("m.onnx"), int8=True, calib_data=Path("calib dir"), calibrator="entropy", dla_core=0)
    line = command_line(Path("m.onnx"), Path("m.int8.engine"), implicit, "int8", calibrated=False)
    assert "--calibrator entropy --calib-data 'calib dir'" in line and "--dla-core 0" in line
    only = BuildOptions(onnx=Path("m.onnx"), int8=True, int8_only=True)
    assert command_line(Path("m.int8.onnx"), Path("m.int8.engine"), only, "int8", calibrated=True).endswith("--int8 --int8-only --out m.int8.engine")


def _cache_line(name: str, scale: float) -> str:
    return f"{name}: {struct.pack('>f', scale).hex()}"


def test_parse_calibration_cache() -> None:
    text = "TRT-8502-EntropyCalibration2\n" + _cache_line("input", 0.0078125) + "\n" + _cache_line("/enc/conv/Conv_output_0", 0.5) + "\n"
    scales = parse_calibration_cache(text)
    assert scales == {"input": pytest.approx(0.0078125), "/enc/conv/Conv_output_0": pytest.approx(0.5)}
    with pytest.raises(EdgeUnetError, match="not a TensorRT calibration cache"):
        parse_calibration_cache("hello")
    with pytest.raises(EdgeUnetError, match="malformed"):
        parse_calibration_cache("TRT-8502-EntropyCalibration2\ninput: zz\n")


def test_cache_paths_are_keyed_by_onnx_hash(tmp_path: Path) -> None:
    cache, manifest = cache_paths("ab" * 32, "best", "entropy", tmp_path)
    assert cache.parent == tmp_path and "abababababab" in cache.name and cache.suffix == ".cache" and manifest.suffix == ".json"
    assert cache_paths("cd" * 32, "best", "entropy", tmp_path)[0] != cache


def test_select_images(tmp_path: Path, synth_data: Path) -> None:
    picked = select_images(synth_data, 5, seed=1)
    assert len(picked) == 5 and picked == select_images(synth_data, 5, seed=1)
    assert picked != select_images(synth_data, 5, seed=2)
    assert len(select_images(synth_data / "images", 100)) == 16
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeUnetError, match="no images"):
        select_images(tmp_path / "empty", 4)


def _sidecar(engine: Path, **over: object) -> dict:
    data = {
        "format": "edgeunet-engine-sidecar", "engine_sha256": sha256_file(engine), "tensorrt_version": "10.3.0.30",
        "gpu": {"name": "Orin", "compute_capability": "8.7"}, "precision": "int8", "spec": ModelSpec().to_dict(),
        "build_command": "edgeunet build-engine m.int8.onnx --int8 --out m.int8.engine",
    }
    data.update(over)
    return data


def test_sidecar_integrity(tmp_path: Path) -> None:
    engine = tmp_path / "m.int8.engine"
    engine.write_bytes(b"\x01" * 4096)  # bytes only: the integrity check never hands them to TensorRT
    with pytest.raises(EdgeUnetError, match="no sidecar"):
        check_engine_file(engine)
    write_sidecar(engine, _sidecar(engine))
    assert check_engine_file(engine)["precision"] == "int8"
    engine.write_bytes(b"\x01" * 1000)
    with pytest.raises(EdgeUnetError, match="truncated .*build-engine m.int8.onnx"):
        check_engine_file(engine)
    sidecar_path(engine).write_text("{not json")
    with pytest.raises(EdgeUnetError, match="corrupt sidecar"):
        read_sidecar(engine)
    sidecar_path(engine).write_text(json.dumps({"format": "edgeunet-engine-sidecar"}))
    with pytest.raises(EdgeUnetError, match="missing engine_sha256"):
        read_sidecar(engine)


def test_check_compatible(tmp_path: Path) -> None:
    engine = tmp_path / "m.int8.engine"
    engine.write_bytes(b"\x02" * 64)
    sidecar = _sidecar(engine)
    check_compatible(sidecar, engine, "10.3.0.30", "Orin", (8, 7))
    with pytest.raises(EdgeUnetError, match=r"TensorRT 10.3.0.30 \(this machine: 8.5.2.2\).*rebuild here with `edgeunet build-engine"):
        check_compatible(sidecar, engine, "8.5.2.2", "Orin", (8, 7))
    with pytest.raises(EdgeUnetError, match="sm 8.7 .this machine: NVIDIA H100 sm 9.0"):
        check_compatible(sidecar, engine, "10.3.0.30", "NVIDIA H100", (9, 0))


def test_stub_fixes_make_the_stub_parseable() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    try:
        from prepare_trt_stubs import fix_stub_text
    finally:
        sys.path.pop(0)
    text = (
        "class P:\n"
        "    def get_workspace_size(self, in: list[int], out: list[int]) -> int:\n"
        '        """:arg in: the inputs"""\n'
        "    def add_scale_nd(self, input: int, mode: int, shift: int = None, power: int = None, channel_axis: int) -> int: ...\n"
    )
    fixed, changed = fix_stub_text(text)
    assert changed == 2 and ":arg in:" in fixed and "in_: list[int]" in fixed and "channel_axis: int = ..." in fixed
    compile(fixed, "stub.pyi", "exec")  # parses now


def test_plan_messages_and_notes_exactly() -> None:
    from edgeunet.trt.plan import check_supported, format_version

    assert format_version((10, 3, 0)) == "10.3.0"
    check_supported((8, 5, 0))  # the oldest supported version itself
    cases = [
        (dict(version=TRT85, onnx_precision="fp32", strongly_typed=True), "--strongly-typed needs TensorRT 10 or newer (found 8.5.2); drop the option"),
        (dict(version=TRT103, onnx_precision="bf16"), "unknown ONNX precision 'bf16' (known: fp32, fp16, int8); re-export the model"),
        (dict(version=TRT103, onnx_precision="fp32", calibrator="kl"), "--calibrator kl: choose from qdq, entropy, minmax"),
        (dict(version=TRT103, onnx_precision="fp32", workspace_mib=0), "--workspace 0: give a positive size in MiB, e.g. 1024"),
        (dict(version=TRT11, onnx_precision="fp32", int8=True, calibrator="entropy"),
         "--calibrator entropy: implicit INT8 calibrators are not in TensorRT 11 (found 11.4.0); use --calibrator qdq (explicit Q/DQ, the default)"),
        (dict(version=TRT103, onnx_precision="fp16", int8=True, calibrator="minmax"),
         "--calibrator minmax calibrates an fp32 ONNX inside TensorRT, but this ONNX is already fp16; pass the fp32 ONNX, or use --calibrator qdq"),
        (dict(version=TRT103, onnx_precision="fp32", int8=True),
         "--int8 --calibrator qdq needs a Q/DQ ONNX; run `edgeunet calibrate` first (build-engine does it given --calib-data)"),
    ]
    for kwargs, message in cases:
        with pytest.raises(EdgeUnetError) as info:
            plan_build(**kwargs)  # type: ignore[arg-type]
        assert str(info.value) == message
    assert plan_build(TRT103, "fp32", workspace_mib=1).workspace_bytes == 1 << 20
    typed = plan_build(TRT11, "int8", int8=True)
    assert typed.notes == () and typed.fp16_flag is False and typed.int8_flag is False
    assert plan_build(TRT11, "int8", int8=True, fp16=True).notes == (
        "strongly typed: layers outside Q/DQ pairs keep the ONNX's float type (--fp16 flag not applicable)",)
    assert plan_build(TRT103, "int8", int8=True).notes == (
        "INT8 with FP16 beside it: layers outside Q/DQ pairs run in FP16 (--int8-only keeps them in FP32)",)
    fp16_onnx = plan_build(TRT103, "fp16")
    assert fp16_onnx.fp16_flag is True and fp16_onnx.precision == "fp16"


def test_calibration_profile_only_beside_a_dynamic_profile(tmp_path: Path) -> None:
    from edgeunet.trt.build import _calibration_profile
    from edgeunet.trt.calibration import CalibrationSet

    image = tmp_path / "a.png"
    image.write_bytes(b"")
    calib = CalibrationSet([image], ModelSpec(in_channels=1, input_size=[16, 16]), "entropy", tmp_path / "c", tmp_path / "m", "0" * 64)
    dynamic = ShapeProfile((1, 1, 16, 16), (4, 1, 16, 16), (8, 1, 16, 16))
    assert _calibration_profile(calib, None) is None and _calibration_profile(None, dynamic) is None
    one = (1, 1, 16, 16)
    assert _calibration_profile(calib, dynamic) == ShapeProfile(one, one, one)


def test_resolve_profile_dims_and_messages() -> None:
    requested = parse_shapes("1x1x8x8,2x1x8x8,4x1x8x8")
    for dynamic in (-1, 0, None):  # TensorRT's -1, ONNX's unknown 0, or None: a dynamic batch
        assert resolve_profile([dynamic, 1, 8, 8], requested, (1, 1, 8, 8)) == requested
    assert resolve_profile([0, 1, 8, 8], None, (1, 1, 8, 8)) == ShapeProfile((1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 8, 8))
    for which, text in (("min", "1x1x8,2x1x8x8,4x1x8x8"), ("opt", "1x1x8x8,2x1x8,4x1x8x8"), ("max", "1x1x8x8,2x1x8x8,4x1x8")):
        with pytest.raises(EdgeUnetError) as info:
            resolve_profile([None, 1, 8, 8], ShapeProfile(*(tuple(int(d) for d in part.split("x")) for part in text.split(","))), (1, 1, 8, 8))
        bad = next(part for part in text.split(",") if part.count("x") == 2)
        assert str(info.value) == f"--shapes {which} {bad} has 3 dimensions; the model input has 4"
    with pytest.raises(EdgeUnetError) as info:
        resolve_profile([None, 1, 8, 8], parse_shapes("1x1x8x8,2x1x8x8,4x3x8x8"), (1, 1, 8, 8))
    assert str(info.value) == "--shapes max 4x3x8x8: dimension 1 is fixed to 1 in the ONNX; export with --dynamic to vary it"


def test_plan_dla_fields_and_messages() -> None:
    static = ShapeProfile((1, 1, 64, 64), (1, 1, 64, 64), (1, 1, 64, 64))
    plain = plan_build(TRT103, "fp32", profile=static)
    assert plain.gpu_fallback is False and plain.onnx_precision == "fp32" and plain.profile == static
    dla = plan_build(TRT103, "int8", int8=True, dla_core=0)  # Q/DQ INT8 on the DLA needs no calibrator from 10.x on
    assert dla.gpu_fallback is True and dla.dla_core == 0
    assert "DLA: layers the DLA cannot run fall back to the GPU (GPU_FALLBACK); the build log lists them" in dla.notes
    messages = {
        "--dla-core: the DLA runs FP16 or INT8 only; add --fp16 or --int8": dict(onnx_precision="fp32"),
        "--dla-core: the DLA needs static shapes; give --shapes with min = opt = max": dict(
            onnx_precision="fp32", fp16=True, profile=ShapeProfile((1, 1, 64, 64), (2, 1, 64, 64), (4, 1, 64, 64))),
    }
    for message, kwargs in messages.items():
        with pytest.raises(EdgeUnetError) as info:
            plan_build(TRT103, dla_core=0, **kwargs)  # type: ignore[arg-type]
        assert str(info.value) == message


def test_resolve_profile_defaults() -> None:
    with pytest.raises(EdgeUnetError) as info:
        resolve_profile([None, 1, 8], None, (1, 1, 8, 8))
    assert str(info.value) == "model input rank 3 does not match its description; re-export the model"
    assert resolve_profile([None, 3, 8, 8], None, (1, 1, 16, 16)) == ShapeProfile((1, 3, 8, 8), (1, 3, 8, 8), (1, 3, 8, 8))
