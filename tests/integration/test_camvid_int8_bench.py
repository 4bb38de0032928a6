"""benchmarks/camvid_int8.py on the tiny session model (the real CamVid run is done elsewhere): one table, the rows
and columns issue 14 asks for, the sensitivity report beside it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("torch")  # the session model is trained here


@pytest.mark.slow
def test_camvid_int8_table(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    val = tmp_path / "val"
    for sub in ("images", "masks"):
        (val / sub).mkdir(parents=True)
        for path in sorted((synth_data / sub).iterdir())[-4:]:
            shutil.copy(path, val / sub / path.name)
    spec = importlib.util.spec_from_file_location("camvid_int8", REPO / "benchmarks" / "camvid_int8.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    # the fp32 ONNX doubles as the "QAT" row: the script only scores what it is given
    table = module.main([str(tiny_onnx), "--calib", str(synth_data / "images"), "--val", str(val), "--out", str(out),
                         "--num-images", "8", "--warmup", "1", "--iterations", "3", "--qat-onnx", str(tiny_onnx)])
    text = table.read_text()
    assert "| row | mIoU | drop vs fp32 | lowest class IoU | largest class drop | float layers | int8 ms | int8-cpu ms | note |" in text
    for name in ("| fp32 |", "| PTQ entropy |", "| PTQ percentile 99.99 |", "| PTQ percentile 90 (damaging) |", "| PTQ entropy + fallback auto |",
                 "| PTQ percentile 90 + fallback auto |", "| QAT |"):
        assert name in text
    assert "CPU: " in text and (out / "sensitivity-fallback.md").is_file()
    rows = json.loads((out / "camvid-int8.json").read_text())["rows"]
    assert rows[1]["int8_ms"] > 0 and rows[1]["int8_cpu_ms"] > 0 and rows[0]["miou_drop"] == 0
