"""`edgeunet build-engine` and engine loading, as a user runs them.

Without TensorRT (our machines, CI) build-engine must do calibration + the accuracy gate and then stop with one
line and exit code 3; every bad input is one line, a non-zero exit and no traceback. The tests that need a real
TensorRT and GPU are marked and skip with the reason here; nothing fakes TensorRT.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
HAS_PYCUDA = importlib.util.find_spec("pycuda") is not None
needs_no_trt = pytest.mark.skipif(HAS_TRT, reason="checks the no-TensorRT path; TensorRT is installed here")


@pytest.fixture(scope="module")
def onnx_model(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    proc = run_cli("export", tiny_run / "best.pt", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture()
def work(tmp_path: Path, onnx_model: Path) -> Path:
    """A folder with a copy of the ONNX, used as the working directory (calibration/ lands here)."""
    shutil.copy(onnx_model, tmp_path / "tiny.onnx")
    return tmp_path


@needs_no_trt
def test_int8_without_tensorrt_calibrates_gates_and_stops(work: Path, synth_data: Path) -> None:
    proc = run_cli("build-engine", "tiny.onnx", "--int8", "--calib-data", synth_data, "--max-drop", "1.0", "--num-images", "6",
                   cwd=work)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert_user_error(proc, "TensorRT not found")
    line = proc.stderr.strip()
    assert "tiny.int8.onnx" in line and "edgeunet build-engine tiny.int8.onnx --int8 --out tiny.int8.engine" in line
    assert "accuracy gate passed" in proc.stdout
    assert (work / "tiny.int8.onnx").is_file()
    manifests = list((work / "calibration").glob("*.json"))
    assert len(manifests) == 1 and json.loads(manifests[0].read_text())["num_images"] == 6
    assert not list(work.glob("*.engine")) and not list(work.glob("*.engine.json"))
    # The command the message gives is accepted as is (the validated INT8 ONNX, no recalibration) and stops the same way.
    hinted = shlex.split(line.split("run `", 1)[1].split("`", 1)[0])[1:]
    again = run_cli(*hinted, cwd=work)
    assert again.returncode == 3 and "calibrating" not in again.stdout
    assert_user_error(again, "TensorRT not found")


@needs_no_trt
def test_implicit_calibrator_without_tensorrt_stops_with_one_line(work: Path, synth_data: Path) -> None:
    proc = run_cli("build-engine", "tiny.onnx", "--int8", "--calibrator", "entropy", "--calib-data", synth_data, cwd=work)
    assert proc.returncode == 3
    assert_user_error(proc, "--calibrator entropy --calib-data")


BAD_BUILDS = [
    (["tiny.pt"], "not an ONNX file"),
    (["tiny.int8.engine"], "already an engine"),
    (["garbage.onnx"], "not a readable ONNX"),
    (["foreign.onnx"], "without edgeunet metadata"),
    (["tiny.onnx", "--int8", "--calib-data", "calib", "--max-drop", "-0.1"], "--max-drop -0.1"),
    (["tiny.onnx", "--int8"], "needs calibration images"),
    (["tiny.onnx", "--int8", "--calib-data", "nowhere"], "no such folder"),
    (["tiny.onnx", "--int8", "--calib-data", "empty", "--max-drop", "1"], "no images"),
    (["tiny.onnx", "--calibrator", "minmax"], "only used with --int8"),
    (["tiny.onnx", "--calib-data", "calib"], "only used with --int8"),
    (["tiny.onnx", "--shapes", "1x1xbig"], "--shapes"),
    (["tiny.onnx", "--shapes", "1x1x64x64,2x1x64x64,4x1x64x64"], "fixed to 1"),
    (["tiny.onnx", "--dla-core", "0"], "FP16 or INT8"),
    (["tiny.onnx", "--fp16", "--dla-core", "0", "--shapes", "1x1x64x64,1x1x64x64"], "--shapes"),
    (["tiny.onnx", "--out", "tiny.onnx2"], ".engine or .plan"),
    (["tiny.onnx", "--calibrator", "percentile", "--int8"], "percentile"),
]


@pytest.mark.parametrize("args,fragment", BAD_BUILDS, ids=[f[1] for f in BAD_BUILDS])
def test_bad_build_inputs_are_one_line(work: Path, synth_data: Path, args: list, fragment: str) -> None:
    (work / "tiny.pt").write_bytes(b"not a model")
    (work / "tiny.int8.engine").write_bytes(b"\0" * 16)
    (work / "garbage.onnx").write_bytes(b"\x08\x07garbage" * 10)
    shutil.copytree(synth_data / "images", work / "calib")
    (work / "empty").mkdir()
    import onnx

    model = onnx.load(str(work / "tiny.onnx"))
    del model.metadata_props[:]
    onnx.save(model, str(work / "foreign.onnx"))
    proc = run_cli("build-engine", *args, cwd=work)
    assert_user_error(proc, fragment)
    assert proc.returncode not in (0, 3), proc.stderr
    assert not list(work.glob("*.engine.json"))


def test_int8_onnx_with_calib_data_is_refused(work: Path, onnx_model: Path, synth_data: Path) -> None:
    import onnx

    from edgeunet.core.onnx_model import KEY_PRECISION, KEY_TARGET, set_metadata

    model = onnx.load(str(work / "tiny.onnx"))
    set_metadata(model, {KEY_PRECISION: "int8", KEY_TARGET: "tensorrt"})  # the metadata path only; no graph change needed
    onnx.save(model, str(work / "tiny.int8.onnx"))
    assert_user_error(run_cli("build-engine", "tiny.int8.onnx", "--calib-data", synth_data, "--int8", cwd=work), "already INT8")
    set_metadata(model, {KEY_TARGET: "cpu"})
    onnx.save(model, str(work / "cpu.int8.onnx"))
    assert_user_error(run_cli("build-engine", "cpu.int8.onnx", cwd=work), "made for the CPU")


# -- loading an engine ------------------------------------------------------------------------
def _engine_with_sidecar(folder: Path) -> Path:
    """Bytes plus a sound sidecar: enough for the integrity checks, which run before TensorRT is imported."""
    from edgeunet.core.atomic import sha256_file
    from edgeunet.core.spec import ModelSpec
    from edgeunet.trt.sidecar import write_sidecar

    engine = folder / "tiny.int8.engine"
    engine.write_bytes(bytes(range(256)) * 64)
    write_sidecar(engine, {
        "format": "edgeunet-engine-sidecar", "engine_sha256": sha256_file(engine), "tensorrt_version": "10.3.0.30",
        "gpu": {"name": "Orin", "compute_capability": "8.7"}, "precision": "int8", "spec": ModelSpec(input_size=[64, 64]).to_dict(),
        "build_command": "edgeunet build-engine tiny.int8.onnx --int8 --out tiny.int8.engine",
    })
    return engine


def _infer(engine: Path, synth_data: Path, work: Path):
    image = sorted((synth_data / "images").iterdir())[0]
    return run_cli("infer", engine, image, "--out", work / "pred", cwd=work)


def test_truncated_engine_is_one_line(work: Path, synth_data: Path) -> None:
    engine = _engine_with_sidecar(work)
    engine.write_bytes(engine.read_bytes()[:1000])
    assert_user_error(_infer(engine, synth_data, work), "truncated")


def test_missing_and_corrupt_sidecar_are_one_line(work: Path, synth_data: Path) -> None:
    engine = _engine_with_sidecar(work)
    sidecar = engine.with_name(engine.name + ".json")
    sidecar.write_text('{"format": "edgeunet-engine-sidecar", "tensor')
    assert_user_error(_infer(engine, synth_data, work), "corrupt sidecar")
    sidecar.unlink()
    assert_user_error(_infer(engine, synth_data, work), "no sidecar")


@needs_no_trt
def test_sound_engine_without_tensorrt_is_exit_3(work: Path, synth_data: Path) -> None:
    proc = _infer(_engine_with_sidecar(work), synth_data, work)
    assert proc.returncode == 3
    assert_user_error(proc, "not found")


# -- on a machine with TensorRT + pycuda + GPU ---------------------------------------------------------
@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.skipif(not (HAS_TRT and HAS_PYCUDA), reason="needs TensorRT and pycuda (Jetson / GPU machine with edgeunet[trt])")
def test_fp32_engine_matches_onnxruntime(work: Path, synth_data: Path) -> None:
    import numpy as np

    from edgeunet.core.images import read_image
    from edgeunet.runtime.segmenter import Segmenter

    proc = run_cli("build-engine", "tiny.onnx", "--timing-cache", "tiny.cache", cwd=work)
    assert proc.returncode == 0, proc.stderr
    engine = work / "tiny.fp32.engine"
    sidecar = json.loads((work / "tiny.fp32.engine.json").read_text())
    assert sidecar["precision"] == "fp32" and sidecar["gpu"]["compute_capability"] and (work / "tiny.cache").is_file()
    trt_seg, ort_seg = Segmenter(engine), Segmenter(work / "tiny.onnx", device="cpu")
    for path in sorted((synth_data / "images").iterdir())[:4]:
        image = read_image(path)
        assert np.mean(trt_seg.predict(image) == ort_seg.predict(image)) >= 0.999


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.skipif(not (HAS_TRT and HAS_PYCUDA), reason="needs TensorRT and pycuda (Jetson / GPU machine with edgeunet[trt])")
def test_engine_from_other_tensorrt_is_refused(work: Path, synth_data: Path) -> None:
    assert run_cli("build-engine", "tiny.onnx", cwd=work).returncode == 0
    sidecar_file = work / "tiny.fp32.engine.json"
    sidecar = json.loads(sidecar_file.read_text())
    sidecar["tensorrt_version"] = "8.5.2.2" if not sidecar["tensorrt_version"].startswith("8.5") else "10.3.0.30"
    sidecar_file.write_text(json.dumps(sidecar))
    assert_user_error(_infer(work / "tiny.fp32.engine", synth_data, work), "rebuild here with `edgeunet build-engine")
