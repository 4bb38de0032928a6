"""bench.run: speed-ups against fp32, the backends a model gets, and no torch at import."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.bench import run as bench
from edgeunet.bench.config import Row
from tests.unit.bench.sample_report import REPORT


def test_speedups_against_fp32_on_same_backend() -> None:
    rows = [Row(**r) for r in REPORT["rows"]]
    bench.add_speedups(rows)
    assert rows[3].speedup_vs_fp32 == pytest.approx(1.5)
    assert rows[0].speedup_vs_fp32 == pytest.approx(1.0)
    assert rows[4].speedup_vs_fp32 is None


def test_auto_backends_follow_the_model_file() -> None:
    assert bench.plan_backends(Path("m.pt"), ["auto"]) == ["torch", "onnxruntime", "tensorrt"]
    assert bench.plan_backends(Path("m.onnx"), ["auto"]) == ["onnxruntime", "tensorrt"]
    assert bench.plan_backends(Path("m.engine"), ["auto"]) == ["tensorrt"]
    assert bench.plan_backends(Path("m.pt"), ["onnxruntime"]) == ["onnxruntime"]


def test_bench_module_imports_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, edgeunet.bench.run, edgeunet.bench.variants, edgeunet.bench.report, edgeunet.bench.decide; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_end_to_end_models_are_timed_on_frames_of_their_size() -> None:
    from edgeunet.core.spec import ModelSpec

    spec = ModelSpec(in_channels=3, num_classes=3, class_names=["a", "b", "c"], mean=[0.5] * 3, std=[0.25] * 3,
                     input_size=[32, 32], io="end-to-end", frame_size=[96, 128])
    batch = bench.input_batch(spec, 1, [32, 32], None)
    assert batch.shape == (1, 96, 128, 3) and batch.dtype.name == "uint8"
