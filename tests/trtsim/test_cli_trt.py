"""The whole TensorRT path of the CLI, in-process, under the emulator of each TensorRT version.

build-engine (fp32 / fp16 / int8 by Q/DQ and by both implicit calibrators where the version has them), dynamic
batch 1 and 8, the timing cache (new, reused, damaged, from another GPU), DLA planning, loading an engine with its
sidecar (and refusing one from another GPU), infer / evaluate / stream / bench on an .engine, doctor --selftest,
export-triton of an engine. In-process so that coverage sees every line of edgeunet/trt and the TensorRT backend.
What passes here proves API use and protocol; never speed or engine accuracy (results are ONNX Runtime's).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import cv2
import numpy as np
import pytest

from tests.trtsim import configure_gpu, installed, state
from tests.trtsim.fixtures import PURGE
from tests.unit.cli.invoke import cli, ok  # noqa: F401 - also imported from here by the other trtsim CLI tests

VERSIONS = ["8.5", "10.3", "11"]
IMPLICIT = ["8.5", "10.3"]


@pytest.fixture(params=VERSIONS)
def trt(request: pytest.FixtureRequest) -> Iterator[Any]:
    with installed(request.param, purge=PURGE) as module:
        yield module


def one_line_error(result: Tuple[int, str, str], fragment: str) -> None:
    """As tests/unit/cli/invoke.one_line_error, with TensorRT's own '[...]' log lines set aside."""
    code, _, err = result
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("[")]
    assert len(lines) == 1 and fragment.lower() in lines[0].lower(), err


@pytest.fixture
def onnx(tmp_path: Path, tiny_onnx: Path) -> Path:
    """A private copy of the 64x64 fp32 tiny model (build-engine writes its fp16/int8 ONNX beside it)."""
    path = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, path)
    return path


@pytest.fixture(scope="session")
def dynamic_onnx(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> Path:
    from tests.conftest import run_cli

    out = tmp_path_factory.mktemp("dyn") / "tiny.dyn.onnx"
    proc = run_cli("export", tiny_run / "best.pt", "--out", out, "--dynamic", "--no-simplify")
    assert proc.returncode == 0, proc.stderr
    return out


def masks_of(folder: Path) -> List[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((folder / "masks").glob("*.png"))]


def test_fp32_engine_infers_like_onnxruntime(trt: Any, capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    out = ok(cli(capsys, "build-engine", onnx))
    engine = onnx.with_name("tiny.fp32.engine")
    sidecar = json.loads(Path(f"{engine}.json").read_text())
    assert engine.is_file() and sidecar["tensorrt_version"] == trt.__version__ and "wrote" in out
    assert sidecar["gpu"] == {"name": "NVIDIA Emulated GPU", "compute_capability": "8.7"}
    ok(cli(capsys, "infer", engine, synth_data / "images", "--out", tmp_path / "trt"))
    ok(cli(capsys, "infer", onnx, synth_data / "images", "--out", tmp_path / "ort"))
    for a, b in zip(masks_of(tmp_path / "trt"), masks_of(tmp_path / "ort")):
        assert np.array_equal(a, b)


def test_fp16_engine_from_an_fp32_onnx(trt: Any, capsys: Any, onnx: Path) -> None:
    """Defect 1: on TensorRT 11 (always strongly typed) `--fp16` from an fp32 ONNX was refused before conversion."""
    out = ok(cli(capsys, "build-engine", onnx, "--fp16", "--no-gate"))
    sidecar = json.loads(Path(f"{onnx.with_name('tiny.fp16.engine')}.json").read_text())
    assert sidecar["precision"] == "fp16" and "wrote" in out
    if trt.__version__.startswith("11"):
        assert sidecar["onnx"]["precision"] == "fp16" and sidecar["build"]["strongly_typed"]
    else:
        assert "FP16" in sidecar["build"]["builder_flags"]


def test_fp16_strongly_typed_on_10(capsys: Any, onnx: Path) -> None:
    """Defect 1 on 10.x with --strongly-typed."""
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--fp16", "--strongly-typed", "--no-gate"))
    sidecar = json.loads(Path(f"{onnx.with_name('tiny.fp16.engine')}.json").read_text())
    assert sidecar["onnx"]["precision"] == "fp16" and sidecar["build"]["network_flags"] == ["STRONGLY_TYPED"]


def test_int8_qdq_engine_then_evaluate(trt: Any, capsys: Any, onnx: Path, synth_data: Path) -> None:
    ok(cli(capsys, "build-engine", onnx, "--int8", "--calib-data", synth_data, "--num-images", "8",
           "--max-drop", "1"))
    engine = onnx.with_name("tiny.int8.engine")
    sidecar = json.loads(Path(f"{engine}.json").read_text())
    assert sidecar["build"]["calibrator"] == "qdq" and sidecar["gate"] is not None
    ok(cli(capsys, "evaluate", engine, "--data", synth_data, "--json", engine.with_suffix(".json")))
    result = json.loads(engine.with_suffix(".json").read_text())
    assert result["backend"] == "tensorrt" and result["precision"] == "int8" and result["images"] == 16


def test_float_layers_reach_the_engine_sidecar(capsys: Any, onnx: Path, synth_data: Path) -> None:
    """Issue 14: layers an INT8 ONNX leaves in float (--keep-float / --fallback auto) are copied into the sidecar."""
    import onnx as onnx_lib

    conv = next(n.name for n in onnx_lib.load(str(onnx)).graph.node if n.op_type == "Conv")
    qdq = onnx.with_name("kept.int8.onnx")
    ok(cli(capsys, "calibrate", onnx, "--data", synth_data, "--out", qdq, "--num-images", "8", "--max-drop", "1",
           "--keep-float", conv, "--manifest-dir", onnx.parent / "calibration"))
    engine = onnx.with_name("kept.int8.engine")
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", qdq, "--out", engine))
    sidecar = json.loads(Path(f"{engine}.json").read_text())
    assert sidecar["float_layers"] == [conv] and sidecar["onnx"]["precision"] == "int8"


def test_build_engine_calibrates_with_float_layers(capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """Issue 14: `build-engine --int8 --calib-data` takes calibrate's --keep-float / --fallback auto; elsewhere one line."""
    import onnx as onnx_lib

    conv = next(n.name for n in onnx_lib.load(str(onnx)).graph.node if n.op_type == "Conv")
    work = onnx  # a fresh copy per test (fixture)
    engine = tmp_path / "kept.int8.engine"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", work, "--int8", "--calib-data", synth_data, "--num-images", "8", "--max-drop", "1",
               "--keep-float", conv, "--fallback", "auto", "--out", engine))
    sidecar = json.loads(Path(f"{engine}.json").read_text())
    assert sidecar["float_layers"] == [conv] and sidecar["precision"] == "int8"
    one_line_error(cli(capsys, "build-engine", work, "--fp16", "--keep-float", conv), "--keep-float chooses float layers")
    one_line_error(cli(capsys, "build-engine", work, "--int8", "--calib-data", synth_data, "--calibrator", "entropy",
                       "--fallback", "auto"), "--fallback auto chooses float layers")


def test_bench_float_layer_costs_build_explicit_engines(capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """Issue 14: `bench --fallback` on TensorRT builds the all-INT8 and each one-layer-float Q/DQ graph as explicit
    engines (no calibrator, no gate: timing rows) and reports a cost per float layer. Protocol only: an emulator's
    milliseconds are no speed figure."""
    import onnx as onnx_lib

    conv = next(n.name for n in onnx_lib.load(str(onnx)).graph.node if n.op_type == "Conv")
    kept = tmp_path / "kept.int8.onnx"
    ok(cli(capsys, "calibrate", onnx, "--data", synth_data, "--out", kept, "--num-images", "8", "--no-gate",
           "--keep-float", conv, "--manifest-dir", tmp_path / "calibration"))
    report = tmp_path / "bench.json"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "bench", onnx, "--backends", "tensorrt", "--precisions", "fp32", "--fallback", kept, "--warmup", "1",
               "--iterations", "3", "--calib-data", synth_data, "--calib-images", "8", "--cache", tmp_path / "cache", "--json", report))
    result = json.loads(report.read_text())
    rows = {r["precision"]: r for r in result["rows"]}
    assert rows["int8-fallback"]["status"] == "ok" and rows["int8-fallback"]["float_layers"] == [conv]
    costs = result["float_layer_costs"]
    assert [c["layer"] for c in costs] == [conv, "all 1 together"] and all(c["status"] == "ok" for c in costs), costs
    sidecars = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("*-float-*.engine.json")]
    assert len(sidecars) == 2 and all(s["precision"] == "int8" and s["gate"] is None for s in sidecars)  # reference + the layer


@pytest.mark.parametrize("version", IMPLICIT)
@pytest.mark.parametrize("method", ["entropy", "minmax"])
def test_implicit_calibrators_and_a_stale_cache(version: str, method: str, capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 4: the manifest was written before the build, so a cache from other images (--seed) was reused."""
    monkeypatch.chdir(tmp_path)
    with installed(version, purge=PURGE):
        args = ("build-engine", onnx, "--int8", "--calibrator", method, "--calib-data", synth_data, "--num-images", "4")
        ok(cli(capsys, *args, "--seed", "0"))
        assert state().batches_fed == 4
        state().batches_fed = 0
        ok(cli(capsys, *args, "--seed", "0", "--out", tmp_path / "again.engine"))
        assert state().batches_fed == 0  # same images: the cache is used
        ok(cli(capsys, *args, "--seed", "1", "--out", tmp_path / "seed1.engine"))
        assert state().batches_fed == 4  # other images: calibrated again, not the old cache
    manifest = json.loads(next((tmp_path / "calibration").glob("*.json")).read_text())
    assert manifest["seed"] == 1 and manifest["batch_size"] == 1


def test_implicit_calibrator_is_refused_on_11(capsys: Any, onnx: Path, synth_data: Path) -> None:
    with installed("11", purge=PURGE):
        one_line_error(cli(capsys, "build-engine", onnx, "--int8", "--calibrator", "entropy", "--calib-data", synth_data),
                       "not in TensorRT 11")


def test_bad_calibration_image_fails_the_build(capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """Defect 5 through the CLI: one unreadable image ends in one line and no engine."""
    calib = tmp_path / "calib"
    shutil.copytree(synth_data / "images", calib)
    (calib / "zz_broken.png").write_bytes(b"not a png")
    with installed("10.3", purge=PURGE):
        one_line_error(cli(capsys, "build-engine", onnx, "--int8", "--calibrator", "entropy", "--calib-data", calib,
                           "--num-images", "100", "--out", tmp_path / "x.engine"), "calibration failed")
    assert not (tmp_path / "x.engine").exists()


def test_dynamic_batch_1_and_8(trt: Any, capsys: Any, dynamic_onnx: Path, tmp_path: Path) -> None:
    """Engines with a batch profile run batch 1 and 8 through the TensorRT backend."""
    from edgeunet.runtime.base import load_backend

    engine = tmp_path / "dyn.engine"
    ok(cli(capsys, "build-engine", dynamic_onnx, "--out", engine, "--shapes", "1x1x64x64,4x1x64x64,8x1x64x64"))
    with load_backend(engine) as backend:
        for batch in (1, 8):
            out = backend.run(np.zeros((batch, 1, 64, 64), np.float32))
            assert out.shape[0] == batch
        assert set(backend.phase_ms) == {"h2d", "compute", "d2h"}
    backend.close()  # a second close is a no-op


def test_timing_cache_new_reused_damaged_foreign(capsys: Any, onnx: Path, tmp_path: Path) -> None:
    cache = tmp_path / "timing.cache"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--timing-cache", cache, "--out", tmp_path / "a.engine"))
        assert cache.stat().st_size > 0 and state().timing_cache[-1] == "set-accepted"
        ok(cli(capsys, "build-engine", onnx, "--timing-cache", cache, "--out", tmp_path / "b.engine"))
        assert "created-from-blob" in state().timing_cache
        cache.write_bytes(b"\x00garbage")
        out = ok(cli(capsys, "build-engine", onnx, "--timing-cache", cache, "--out", tmp_path / "c.engine"))
        assert (tmp_path / "c.engine").is_file() and cache.read_bytes() != b"\x00garbage" and "is not a timing cache" in out
        ok(cli(capsys, "build-engine", onnx, "--timing-cache", cache, "--out", tmp_path / "d.engine"))
        configure_gpu(name="NVIDIA Other GPU", compute_capability=(8, 6))
        out = ok(cli(capsys, "build-engine", onnx, "--timing-cache", cache, "--out", tmp_path / "e.engine"))
        assert "another TensorRT version or GPU" in out and (tmp_path / "e.engine").is_file()


def test_dla_core_planning_and_loading(capsys: Any, onnx: Path, tmp_path: Path) -> None:
    """Defect 9: the engine built for DLA core 1 is loaded onto core 1 (the sidecar says so)."""
    from edgeunet.runtime.base import load_backend

    with installed("10.3", purge=PURGE):
        configure_gpu(dla_cores=2)
        one_line_error(cli(capsys, "build-engine", onnx, "--dla-core", "1"), "FP16 or INT8")
        engine = tmp_path / "dla.engine"
        ok(cli(capsys, "build-engine", onnx, "--fp16", "--no-gate", "--dla-core", "1", "--out", engine))
        assert json.loads(Path(f"{engine}.json").read_text())["build"]["dla_core"] == 1
        load_backend(engine).close()
        assert state().engine_dla_cores == [1]
        configure_gpu(dla_cores=0)
        one_line_error(cli(capsys, "build-engine", onnx, "--fp16", "--no-gate", "--dla-core", "0", "--out", tmp_path / "x.engine"),
                       "DLA core")


def test_engine_from_another_gpu_or_version_is_refused(capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--out", engine))
        configure_gpu(name="NVIDIA Other GPU", compute_capability=(9, 0))
        one_line_error(cli(capsys, "evaluate", engine, "--data", synth_data), "rebuild here with")
    with installed("8.6", purge=PURGE):
        one_line_error(cli(capsys, "evaluate", engine, "--data", synth_data), "TensorRT 10.3.0 (this machine: 8.6.1)")


def test_stream_and_bench_on_an_engine(capsys: Any, onnx: Path, synth_data: Path, synth_video: Path, tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--out", engine))
        stats = tmp_path / "stats.json"
        ok(cli(capsys, "stream", engine, synth_video, "-o", tmp_path / "out.mp4", "--stats", stats, "--max-frames", "10", "--no-hud"))
        assert json.loads(stats.read_text())["frames"] == 10
        report = tmp_path / "bench.json"
        ok(cli(capsys, "bench", engine, "--data", synth_data, "--warmup", "1", "--iterations", "3", "--json", report))
        rows = json.loads(report.read_text())["rows"]
        assert any(r["backend"] == "tensorrt" and r["status"] == "ok" for r in rows), rows


def test_doctor_selftest_passes_under_the_emulator(trt: Any, capsys: Any) -> None:
    out = ok(cli(capsys, "doctor", "--selftest"))
    assert "PASS" in out


def test_half_installed_tensorrt_is_one_line(capsys: Any, onnx: Path) -> None:
    with installed("10.3", purge=PURGE, broken_import="libnvinfer.so.10: cannot open shared object file"):
        code, out, err = cli(capsys, "build-engine", onnx)
    assert code == 3 and "Traceback" not in err


def test_export_triton_of_an_engine(capsys: Any, onnx: Path, tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "build-engine", onnx, "--out", engine))
        ok(cli(capsys, "export-triton", engine, "--repo", tmp_path / "repo"))
    assert (tmp_path / "repo" / "m" / "1" / "model.plan").read_bytes() == engine.read_bytes()
    assert "tensorrt_plan" in (tmp_path / "repo" / "m" / "config.pbtxt").read_text()


def test_bench_tensorrt_rows_batch_8_phases_and_gate(capsys: Any, onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """Defects 2 and 3: a batch-8 TensorRT row failed at set_input_shape (the engine had the default batch-1 profile),
    bench's INT8 engines were built with max_drop=1.0 (gate off), and H2D/compute/D2H were always empty (runner.phase_ms
    did not exist)."""
    report = tmp_path / "bench.json"
    with installed("10.3", purge=PURGE):
        ok(cli(capsys, "bench", onnx, "--backends", "tensorrt", "--precisions", "fp32,int8", "--batch", "1,8", "--warmup", "1",
               "--iterations", "3", "--calib-data", synth_data, "--calib-images", "8", "--cache", tmp_path / "cache", "--json", report))
    rows = json.loads(report.read_text())["rows"]
    assert [(r["precision"], r["batch"], r["status"]) for r in rows] == [("fp32", 1, "ok"), ("fp32", 8, "ok"), ("int8", 1, "ok"),
                                                                           ("int8", 8, "ok")], rows
    assert all(set(r["trt_phases_ms"]) == {"h2d", "compute", "d2h"} for r in rows)
    gates = [json.loads(p.read_text())["gate"] for p in (tmp_path / "cache").rglob("int8-*.engine.json")]
    assert gates and all(g is not None and g["max_drop"] == 0.01 for g in gates)
