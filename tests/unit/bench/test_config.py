"""bench.config: option parsing and the up-front checks of a bench run."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.bench import config
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.precisions import PRECISIONS


def test_parse_options_reject_bad_values() -> None:
    assert config.parse_list("fp32, int8", PRECISIONS, "--precisions") == ["fp32", "int8"]
    assert config.parse_ints("1,4", "--batch") == [1, 4]
    with pytest.raises(EdgeUnetError, match="--precisions"):
        config.parse_list("fp8", PRECISIONS, "--precisions")
    with pytest.raises(EdgeUnetError, match="--batch"):
        config.parse_ints("0", "--batch")


def test_check_config_names_the_bad_input(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    with pytest.raises(EdgeUnetError, match="no such model file"):
        config.check_config(config.BenchConfig(models=[tmp_path / "missing.pt"]))
    odd = tmp_path / "m.txt"
    odd.write_text("x")
    with pytest.raises(EdgeUnetError, match="unknown model type"):
        config.check_config(config.BenchConfig(models=[odd]))
    with pytest.raises(EdgeUnetError, match="--data"):
        config.check_config(config.BenchConfig(models=[model], data=tmp_path / "nowhere"))
    config.check_config(config.BenchConfig(models=[model]))


def test_unavailable_row_keeps_one_line_reason() -> None:
    row = config.Row(model="m.pt", backend="tensorrt", precision="fp16", batch=1, size=[64, 48], fps=3.0)
    config.unavailable(row, "TensorRT\n  not found")
    assert not row.ok and row.reason == "TensorRT not found" and row.fps is None
    assert row.label == "TRT-fp16 b1 64x48"


def test_int8_modelopt_and_qat_rows_are_opt_in(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    assert config.BenchConfig(models=[model]).precisions == ["fp32", "fp16", "int8", "int8-cpu"]
    assert config.parse_list("int8,int8-modelopt,int8-qat", config.BENCH_PRECISIONS, "--precisions") == ["int8", "int8-modelopt", "int8-qat"]
    with pytest.raises(EdgeUnetError, match="needs --qat"):
        config.check_config(config.BenchConfig(models=[model], precisions=["int8-qat"]))
    with pytest.raises(EdgeUnetError, match="--qat .*no such file"):
        config.check_config(config.BenchConfig(models=[model], precisions=["int8-qat"], qat=tmp_path / "none.onnx"))
