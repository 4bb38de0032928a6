"""export/build_engine.py: the option checks, the CPU steps and the stop without TensorRT (the TensorRT part runs in tests/trtsim)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.onnx_model import KEY_TARGET
from edgeunet.core.spec import ModelSpec
from edgeunet.export import build_engine as be
from edgeunet.export.build_engine import BuildOptions


def test_onnx_file_checks(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="no such ONNX file"):
        be._check_onnx(BuildOptions(onnx=tmp_path / "m.onnx"))
    for name, message in (("m.engine", "is already an engine"), ("m.pt", "not an ONNX file")):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(EdgeUnetError, match=message):
            be._check_onnx(BuildOptions(onnx=tmp_path / name))


@pytest.mark.parametrize("settings, precision, target, message", [
    ({"calibrator": "kl"}, "fp32", None, "--calibrator kl: choose from"),
    ({"calib_data": Path(".")}, "fp32", None, "--calib-data is only used with --int8"),
    ({"calibrator": "entropy"}, "fp32", None, "only used with --int8"),
    ({"int8": True, "calib_data": Path("/no/such/folder")}, "fp32", None, "--calib-data /no/such/folder: no such folder"),
    ({"val_data": Path("/no/such/folder")}, "fp32", None, "--val-data /no/such/folder: no such folder"),
    ({"int8": True}, "int8", "cpu", "an INT8 graph made for the CPU"),
    ({"int8": True, "calib_data": Path(".")}, "int8", "tensorrt", "is already INT8 .Q/DQ.; drop --calib-data"),
    ({"int8": True, "calibrator": "minmax"}, "int8", "tensorrt", "calibrates an fp32 ONNX"),
    ({"int8": True}, "fp16", None, "is an fp16 ONNX"),
    ({"int8": True}, "fp32", None, "needs calibration images"),
    ({"fallback": "auto"}, "fp32", None, "--fallback auto chooses float layers while build-engine calibrates"),
    ({"int8": True, "keep_float": ("c",)}, "int8", "tensorrt", "--keep-float chooses float layers"),
])
def test_int8_combinations_are_one_line(settings: Any, precision: str, target: Any, message: str) -> None:
    metadata = {KEY_TARGET: target} if target else {}
    with pytest.raises(EdgeUnetError, match=message):
        be._check_int8(BuildOptions(onnx=Path("m.onnx"), **settings), Path("m.onnx"), metadata, precision)


def test_int8_is_asked_for_or_already_there() -> None:
    assert be._check_int8(BuildOptions(onnx=Path("m.onnx"), int8=True, calib_data=Path(".")), Path("m.onnx"), {}, "fp32")
    assert be._check_int8(BuildOptions(onnx=Path("m.onnx")), Path("m.onnx"), {KEY_TARGET: "tensorrt"}, "int8")
    assert not be._check_int8(BuildOptions(onnx=Path("m.onnx"), fp16=True), Path("m.onnx"), {}, "fp32")


def test_output_checks(tmp_path: Path) -> None:
    onnx = tmp_path / "m.int8.onnx"
    assert be._check_out(BuildOptions(onnx=onnx), onnx, "int8") == tmp_path / "m.int8.engine"
    with pytest.raises(EdgeUnetError, match=r"must end in .engine or .plan \(e.g. m.int8.engine\)"):
        be._check_out(BuildOptions(onnx=onnx, out=tmp_path / "m.trt"), onnx, "int8")
    (tmp_path / "cache").mkdir()
    with pytest.raises(EdgeUnetError, match="--timing-cache .*is not a file"):
        be._check_out(BuildOptions(onnx=onnx, timing_cache=tmp_path / "cache"), onnx, "int8")


def _checked(precision: str, onnx_precision: str) -> Any:
    return be._Checked(ModelSpec(), {}, onnx_precision, "input", [1, 1, 256, 256], None, Path("m.engine"), precision)


def test_precision_handed_to_tensorrt() -> None:
    opts = BuildOptions(onnx=Path("m.onnx"), fp16=True)
    assert be._precision_to_build(_checked("int8", "fp32"), opts, (10, 3, 0)) == "int8"
    assert be._precision_to_build(_checked("fp16", "fp32"), opts, (10, 3, 0)) == "fp32"  # the FP16 flag on the fp32 ONNX
    assert be._precision_to_build(_checked("fp16", "fp32"), opts, (11, 1, 0)) == "fp16"  # strongly typed: the fp16 ONNX
    assert be._precision_to_build(_checked("int8", "fp32"), BuildOptions(onnx=Path("m.onnx"), calibrator="entropy"), (8, 5, 2)) == "fp32"


def test_without_tensorrt_the_cpu_steps_run_then_one_line_with_the_command(tiny_onnx: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(be, "tensorrt_version", lambda: None)
    onnx = Path(shutil.copy(tiny_onnx, tmp_path / "tiny.onnx"))
    lines: List[str] = []
    with pytest.raises(MissingDependencyError, match=r"the validated ONNX is at .*tiny.fp16.onnx; run `edgeunet build-engine "
                                                     r".*tiny.fp16.onnx --fp16 --out .*tiny.fp16.engine` on the target"):
        be.build_engine_command(BuildOptions(onnx=onnx, fp16=True, no_gate=True), echo=lines.append)
    assert (tmp_path / "tiny.fp16.onnx").is_file() and lines == [f"wrote {tmp_path / 'tiny.fp16.onnx'}"]
    with pytest.raises(MissingDependencyError, match=r"TensorRT not found, stopping before the engine; the ONNX is at .*tiny.onnx"):
        be.build_engine_command(BuildOptions(onnx=onnx), echo=lines.append)


def test_default_shape_per_io() -> None:
    assert be.default_shape(ModelSpec(input_size=[64, 96])) == (1, 1, 64, 96)
    assert be.default_shape(ModelSpec(input_size=[64, 96], io="uint8")) == (1, 64, 96, 1)
    e2e = ModelSpec(input_size=[64, 96], io="end-to-end", frame_size=[1080, 1920])
    assert be.default_shape(e2e) == (1, 1080, 1920, 3)  # the profile is the camera frame, not the network's input


def test_engine_names_keep_the_end_to_end_tag() -> None:
    assert be.default_engine_path(Path("best.e2e.int8.onnx"), "int8") == Path("best.e2e.int8.engine")
    assert be.default_engine_path(Path("best.e2e.onnx"), "fp16") == Path("best.e2e.fp16.engine")
