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


def test_rows_open_their_backend_with_one_set_of_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench hands every backend the same BackendOptions (runtime.base): no per-backend copy of the mapping."""
    from edgeunet.bench.config import BenchConfig, Row
    from edgeunet.runtime import base

    seen = []

    class Opened:
        spec = None

    def fake_load(path: Path, backend: str, **kwargs: object) -> Opened:
        seen.append((backend, kwargs))
        return Opened()

    monkeypatch.setattr(base, "load_backend", fake_load)
    cfg = BenchConfig(models=[tmp_path / "m.onnx"], threads=2, ort_opt_level="basic", device="cpu")
    for backend, precision in (("onnxruntime", "fp16"), ("tensorrt", "fp32")):
        bench.open_backend(Row(model="m", backend=backend, precision=precision, batch=1, size=[8, 8]), tmp_path / "m.onnx", cfg)
    assert seen == [("onnxruntime", {"device": "cpu", "threads": 2, "opt_level": "basic", "half": True}),
                    ("tensorrt", {"device": "cpu", "threads": 2, "opt_level": "basic"})]


def test_auto_backends_come_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.runtime import registry

    extra = registry.BackendEntry("myort", "MY", registry.ONNX, "x:Y", ("onnxruntime",), "test")
    monkeypatch.setattr(registry, "BACKENDS", (*registry.BACKENDS, extra))
    assert bench.plan_backends(Path("m.onnx"), ["auto"]) == ["onnxruntime", "tensorrt", "myort"]
    assert bench.plan_backends(Path("m.pt"), ["auto"]) == ["torch", "onnxruntime", "tensorrt", "myort"]
    assert bench.plan_backends(Path("m.plan"), ["auto"]) == ["tensorrt"]
