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
