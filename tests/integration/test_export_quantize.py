"""export -> calibrate / convert -> gate -> inspect -> infer, on a tiny model trained in the session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from tests.conftest import assert_user_error, run_cli

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def onnx_dir(tiny_run: Path, synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """float and uint8 exports of the tiny run, through the CLI as a user would."""
    out = tmp_path_factory.mktemp("onnx")
    for name, extra in (("float", []), ("uint8", ["--io", "uint8"])):
        proc = run_cli("export", tiny_run / "best.pt", "--out", out / f"{name}.onnx", "--parity-data", synth_data, *extra)
        assert proc.returncode == 0, proc.stderr
        (out / f"{name}.log").write_text(proc.stdout)
    return out


def _val(synth_data: Path, tmp_path: Path) -> Path:
    """The last 4 synthetic pairs as a labelled validation folder."""
    val = tmp_path / "val"
    for sub in ("images", "masks"):
        (val / sub).mkdir(parents=True)
        for path in sorted((synth_data / sub).iterdir())[-4:]:
            shutil.copy(path, val / sub / path.name)
    return val


def test_export_parity_metadata_and_folded_batchnorm(onnx_dir: Path) -> None:
    log = (onnx_dir / "float.log").read_text()
    line = next(line for line in log.splitlines() if line.startswith("parity"))
    dp = float(line.split("max|Δp| ")[1].split(",")[0])
    agreement = float(line.split("mask agreement ")[1].rstrip("%")) / 100
    assert dp <= 1e-4 and agreement >= 0.999, line
    model = onnx.load(str(onnx_dir / "float.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops and "Conv" in ops
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("edgeunet.spec", "edgeunet.precision", "edgeunet.checkpoint_sha256", "edgeunet.val_metrics", "edgeunet.io"):
        assert key in meta
    assert meta["edgeunet.precision"] == "fp32" and json.loads(meta["edgeunet.spec"])["input_size"] == [64, 64]
    assert not model.graph.initializer[0].external_data


def test_uint8_io_masks_match_float_io(onnx_dir: Path, tiny_run: Path, synth_data: Path) -> None:
    """Same masks from torch (float), ORT float-I/O and ORT uint8-I/O, at the model's resolution."""
    from edgeunet.runtime.segmenter import Segmenter

    u8 = Segmenter(onnx_dir / "uint8.onnx")
    assert u8.backend.name == "onnxruntime" and u8.spec.io == "uint8"
    others = [Segmenter(tiny_run / "best.pt", device="cpu"), Segmenter(onnx_dir / "float.onnx")]
    agree, total = np.zeros(2), 0
    for path in sorted((synth_data / "images").iterdir())[:6]:
        image = cv2.resize(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), (64, 64), interpolation=cv2.INTER_AREA)
        mask = u8.predict(image)
        for i, seg in enumerate(others):
            agree[i] += (seg.predict(image) == mask).sum()
        total += mask.size
    assert (agree / total >= 0.999).all(), agree / total


def test_calibrate_inspect_evaluate_int8(onnx_dir: Path, synth_data: Path, tmp_path: Path) -> None:
    val = _val(synth_data, tmp_path)
    out = tmp_path / "m.int8.onnx"
    proc = run_cli("calibrate", onnx_dir / "float.onnx", "--data", synth_data / "images", "--out", out, "--num-images", "8",
                   "--val-data", val, "--max-drop", "0.05", "--manifest-dir", tmp_path / "calibration", "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    assert "accuracy gate passed" in proc.stdout and "Dice fp32" in proc.stdout
    manifest = json.loads(next((tmp_path / "calibration").glob("m.int8.*.json")).read_text())
    assert manifest["num_images"] == 8 and len(manifest["images"]) == 8 and manifest["seed"] == 0
    assert all(len(item["sha256"]) == 64 for item in manifest["images"])
    val_names = {p.name for p in (val / "images").iterdir()}
    assert not any(Path(item["path"]).name in val_names for item in manifest["images"]), "validation images were calibrated on"

    proc = run_cli("inspect", out, "--strict", "--json", tmp_path / "report.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    q = report["quantization"]
    assert report["tensorrt_ok"] and report["opset"] >= 13
    assert q["nonzero_zero_points"] == 0 and q["zero_point_dtypes"] == ["int8"]
    assert q["weights_per_channel_axis0"] == q["weights_total"] > 0
    assert report["metadata"]["edgeunet.precision"] == "int8" and "edgeunet.gate" in report["metadata"]

    proc = run_cli("evaluate", out, "--data", val, "--json", tmp_path / "eval.json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["backend"] == "onnxruntime" and result["precision"] == "int8"


def test_cpu_target_is_flagged_for_tensorrt(onnx_dir: Path, synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "cpu.int8.onnx"
    proc = run_cli("calibrate", onnx_dir / "float.onnx", "--data", synth_data, "--out", out, "--num-images", "4", "--target", "cpu",
                   "--no-gate", "--manifest-dir", tmp_path / "calibration", "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("inspect", out, "--strict")
    assert proc.returncode != 0 and "uint8 quantization" in proc.stdout and "TensorRT would reject" in proc.stderr
    proc = run_cli("build-engine", out, "--out", tmp_path / "cpu.engine")
    assert_user_error(proc, "made for the CPU")
    assert not (tmp_path / "cpu.engine").exists()


def test_fp16_convert_and_gate(onnx_dir: Path, synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.fp16.onnx"
    proc = run_cli("convert", onnx_dir / "float.onnx", "--fp16", "--out", out, "--val-data", _val(synth_data, tmp_path),
                   "--max-drop", "0.002")
    assert proc.returncode == 0, proc.stderr
    assert "fp16" in proc.stdout and "passed" in proc.stdout
    model = onnx.load(str(out))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # I/O types kept


def test_gate_failure_renames_and_says_both_dice(onnx_dir: Path, synth_data: Path, tmp_path: Path) -> None:
    """A candidate that is a different (worse) model fails the gate in one line; the file is kept as *.rejected.onnx."""
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.evaluate.gate import accuracy_gate

    val = _val(synth_data, tmp_path)
    candidate = tmp_path / "m.int8.onnx"
    shutil.copy(onnx_dir / "float.onnx", candidate)
    model = onnx.load(str(candidate))
    for init in model.graph.initializer:  # damage the head: a drop the gate must catch
        if init.name.startswith("head"):
            arr = onnx.numpy_helper.to_array(init)
            init.CopyFrom(onnx.numpy_helper.from_array(-arr, init.name))
    onnx.save(model, str(candidate))
    with pytest.raises(EdgeUnetError, match=r"Dice [0-9.]+ vs fp32 [0-9.]+") as info:
        accuracy_gate(onnx_dir / "float.onnx", candidate, val, max_drop=0.01)
    assert info.value.exit_code == 4 and "\n" not in str(info.value)
    assert not candidate.exists() and (tmp_path / "m.int8.rejected.onnx").exists()


def test_infer_writes_masks_overlays_areas(onnx_dir: Path, synth_data: Path, tmp_path: Path) -> None:
    images = sorted((synth_data / "images").iterdir())[:3]
    proc = run_cli("infer", onnx_dir / "uint8.onnx", *images, "--out", tmp_path / "pred", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    areas = json.loads((tmp_path / "pred" / "areas.json").read_text())
    assert set(areas["images"]) == {p.stem for p in images}
    for path in images:
        mask = cv2.imread(str(tmp_path / "pred" / "masks" / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED)
        assert mask.shape == cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2] and mask.max() <= 1
        assert (tmp_path / "pred" / "overlays" / f"{path.stem}.jpg").is_file()
        entry = areas["images"][path.stem]
        assert entry["pixels"]["foreground"] == int((mask == 1).sum())
