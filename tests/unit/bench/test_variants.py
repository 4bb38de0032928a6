"""bench.variants: the cache folder and which file a row runs (or why it cannot), without building anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.bench import variants
from edgeunet.bench.config import BenchConfig, Row
from edgeunet.core.errors import EdgeUnetError


def _row(backend: str, precision: str) -> Row:
    return Row(model="m", backend=backend, precision=precision, batch=1, size=[64, 64])


def test_cache_folder_is_named_by_content(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"one")
    default = variants.cache_dir_for(model, None)
    assert default.parent == tmp_path / "bench-cache" and len(default.name) == 12
    assert variants.cache_dir_for(model, tmp_path / "c").name == default.name
    model.write_bytes(b"two")
    assert variants.cache_dir_for(model, None) != default


def test_rows_a_file_cannot_run_say_why(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    cfg = BenchConfig(models=[onnx], cache=tmp_path / "cache")
    from_onnx = variants.Variants(onnx, cfg, log=lambda _: None)
    with pytest.raises(EdgeUnetError, match="needs the .pt checkpoint"):
        variants.model_file(from_onnx, _row("torch", "fp32"), cfg)
    with pytest.raises(EdgeUnetError, match="cpu-target"):
        variants.model_file(from_onnx, _row("tensorrt", "int8-cpu"), cfg)
    with pytest.raises(EdgeUnetError, match="onnxruntime needs the .onnx"):
        variants.model_file(variants.Variants(engine, cfg, log=lambda _: None), _row("onnxruntime", "fp32"), cfg)
    assert variants.model_file(variants.Variants(engine, cfg, log=lambda _: None), _row("tensorrt", "fp16"), cfg) == engine


def test_int8_without_calibration_images_is_one_line(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    cfg = BenchConfig(models=[onnx], cache=tmp_path / "cache")
    with pytest.raises(EdgeUnetError, match="--calib-data"):
        variants.Variants(onnx, cfg, log=lambda _: None).calib_source()


def test_a_backend_of_a_kind_bench_cannot_make_is_refused_not_sent_to_tensorrt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new backend reaches bench through the registry; its file kind picks the file, never its name."""
    from edgeunet.runtime import registry

    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    cfg = BenchConfig(models=[onnx], cache=tmp_path / "cache")
    made = variants.Variants(onnx, cfg, log=lambda _: None)
    other = registry.BackendEntry("openvino", "OV", "ir", "x:Y", ("openvino",), "test")
    also_onnx = registry.BackendEntry("myort", "MY", registry.ONNX, "x:Y", ("onnxruntime",), "test")
    monkeypatch.setattr(registry, "BACKENDS", (*registry.BACKENDS, other, also_onnx))
    monkeypatch.setattr(variants, "trt_engine", lambda *_: pytest.fail("sent to a TensorRT build"))
    with pytest.raises(EdgeUnetError, match="bench cannot make a ir file for the openvino backend"):
        variants.model_file(made, _row("openvino", "fp32"), cfg)
    monkeypatch.setattr(variants.Variants, "fp32", lambda self, size: onnx)
    assert variants.model_file(made, _row("myort", "fp32"), cfg) == onnx  # an ONNX backend gets the ONNX variants
    with pytest.raises(EdgeUnetError, match="--backends nope: unknown backend"):
        variants.model_file(made, _row("nope", "fp32"), cfg)


def test_a_precision_with_a_converter_is_made_by_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fp16 (and any newcomer's precision) is the fp32 variant through the table's converter, cached by name and size."""
    from edgeunet.core import precisions

    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"fp32")
    cfg = BenchConfig(models=[onnx], cache=tmp_path / "cache")
    made = variants.Variants(onnx, cfg, log=lambda _: None)
    monkeypatch.setattr(variants.Variants, "fp32", lambda self, size: onnx)
    calls = []

    def convert(src: Path, out: Path) -> Path:
        calls.append(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(src.read_bytes() + b"->half")
        return out

    monkeypatch.setattr(precisions.Precision, "deriver", lambda self: convert)
    first = variants.model_file(made, _row("onnxruntime", "fp16"), cfg)
    assert first.name == "fp16-64x64.onnx" and first.read_bytes() == b"fp32->half"
    assert variants.model_file(made, _row("onnxruntime", "fp16"), cfg) == first and len(calls) == 1
    checkpoint = tmp_path / "m.pt"
    checkpoint.write_bytes(b"pt")
    with pytest.raises(EdgeUnetError, match="torch runs fp32/fp16 here; INT8 runs through onnxruntime or tensorrt"):
        variants.model_file(variants.Variants(checkpoint, cfg, log=lambda _: None), _row("torch", "int8"), cfg)


def _recording(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace the one INT8 path with a recorder that writes a placeholder file (what bench would then time)."""
    import edgeunet.export.int8 as int8

    calls: list = []

    def fake(onnx: Path, data: Path, out: Path, options: object, warn: object = None) -> None:
        calls.append((onnx, data, out, options, warn))
        out.parent.mkdir(parents=True, exist_ok=True)  # quantize_and_gate's prepare makes the folder
        out.write_bytes(b"int8")

    monkeypatch.setattr(int8, "quantize_and_gate", fake)
    return calls


def test_int8_rows_go_through_calibrates_path_and_say_which_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench's INT8 variants are `calibrate`'s quantize_and_gate (its calibration-set check included), minmax without gate."""
    calls = _recording(monkeypatch)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    calib = tmp_path / "calib"
    calib.mkdir()
    cfg = BenchConfig(models=[onnx], cache=tmp_path / "cache", calib_data=calib, calib_images=16)
    lines: list = []
    found = variants.Variants(onnx, cfg, log=lines.append)
    monkeypatch.setattr(found, "fp32", lambda size: tmp_path / "fp32.onnx")
    for target in ("tensorrt", "cpu"):
        path = found.int8([64, 64], target)
        assert path.is_file() and path.name.startswith(f"int8-{target}-64x64-")
    found.int8_modelopt([64, 64])
    assert [call[3].engine for call in calls] == ["edgeunet", "edgeunet", "modelopt"]
    assert [call[3].target for call in calls] == ["tensorrt", "cpu", "tensorrt"]
    for _, data, _, options, warn in calls:
        assert data == calib and options.method == "minmax" and not options.gate and options.num_images == 16
        assert options.manifest_dir == found.dir / "calibration" and warn == lines.append  # check warnings reach bench's log
    said = [line for line in lines if line.startswith("bench: calibrating")]
    assert len(said) == 3 and all("minmax" in line and "no gate" in line and "16 images" in line for line in said)
    found.int8([64, 64], "tensorrt")  # cached on disk: no second calibration
    assert len(calls) == 3


def test_bench_int8_settings_pass_calibrates_checks() -> None:
    from edgeunet.export.int8_options import Int8Options

    options = Int8Options(**variants.BENCH_INT8)
    options.check()
    assert options.method == "minmax" and not options.gate and "no gate" in options.describe()
