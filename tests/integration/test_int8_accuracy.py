"""Issue 14 acceptance (items 1-4) on the tiny session model: calibration-set check, per-class gate,
layer sensitivity, float fallback, and every produced INT8 graph is one TensorRT 10.3 accepts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from tests.conftest import SHARED_DATA, assert_user_error, run_cli

pytest.importorskip("torch")  # the session model is trained here

CAMVID_IMAGES = SHARED_DATA / "camvid-train" / "images"


@pytest.fixture(scope="module")
def val(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The last 4 synthetic pairs as the labelled validation folder (calibration then excludes them)."""
    out = tmp_path_factory.mktemp("val")
    for sub in ("images", "masks"):
        (out / sub).mkdir()
        for path in sorted((synth_data / sub).iterdir())[-4:]:
            shutil.copy(path, out / sub / path.name)
    return out


@pytest.fixture(scope="module")
def trained_onnx(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-epoch width-8 model (Dice ~0.65 on its val images; the 2-epoch session model predicts one class everywhere,
    so no calibration can hurt it). ~35 s on 2 busy cores: the tests using it are marked slow."""
    out = tmp_path_factory.mktemp("trained")
    proc = run_cli("train", "--data", synth_data, "--out", out / "run", "--epochs", "8", "--width", "8", "--size", "64",
                   "--batch-size", "4", "--lr", "3e-3", "--snapshot-samples", "0")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("export", out / "run" / "best.pt", "--out", out / "m.onnx")
    assert proc.returncode == 0, proc.stderr
    return out / "m.onnx"


def _meta(path: Path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _manifest(folder: Path) -> dict:
    found = sorted(folder.glob("*.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


def _trt_ok(path: Path) -> None:
    """(c): `edgeunet inspect MODEL --trt 10.3 --strict` accepts it."""
    proc = run_cli("inspect", path, "--trt", "10.3", "--strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_export_stores_training_statistics(tiny_onnx: Path) -> None:
    stats = json.loads(_meta(tiny_onnx)["edgeunet.data_stats"])
    assert stats["channels"] == 1 and len(stats["histogram"][0]) == stats["bins"] and stats["images"] > 0


def test_noise_calibration_warns_and_strict_refuses(tiny_onnx: Path, val: Path, tmp_path: Path) -> None:
    """(a) pure noise: one warning line recorded in the manifest; --strict-calibration: one error line, nothing written."""
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise"
    noise.mkdir()
    for i in range(16):
        cv2.imwrite(str(noise / f"{i:02d}.png"), rng.integers(0, 256, (64, 64), dtype=np.uint8))
    out = tmp_path / "n.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, "--data", noise, "--out", out, "--val-data", val, "--max-drop", "1",
                   "--manifest-dir", tmp_path / "cal")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: calibration set differs from the training data")]
    assert len(warnings) == 1 and "histogram distance" in warnings[0] and "local contrast" in warnings[0], proc.stderr
    check = _manifest(tmp_path / "cal")["calibration_check"]
    assert not check["ok"] and check["findings"] and check["activations"]["activation_ratio_median"] > 0
    strict_out = tmp_path / "strict.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, "--data", noise, "--out", strict_out, "--val-data", val, "--strict-calibration",
                   "--manifest-dir", tmp_path / "cal-strict")
    assert_user_error(proc, "--strict-calibration: calibration set differs from the training data")
    assert not strict_out.exists() and not (tmp_path / "cal-strict").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_gray_model_on_colour_street_images_warns(tiny_onnx: Path, tmp_path: Path) -> None:
    """(a) a grayscale cell/membrane model calibrated on CamVid street frames."""
    if not CAMVID_IMAGES.is_dir():
        pytest.skip(f"CamVid not found at {CAMVID_IMAGES}")
    proc = run_cli("calibrate", tiny_onnx, "--data", CAMVID_IMAGES, "--num-images", "16", "--out", tmp_path / "c.int8.onnx",
                   "--no-gate", "--manifest-dir", tmp_path / "cal")
    assert proc.returncode == 0, proc.stderr
    assert "warning: calibration set differs from the training data: intensity histogram distance" in proc.stderr
    proc = run_cli("calibrate", tiny_onnx, "--data", CAMVID_IMAGES, "--num-images", "16", "--out", tmp_path / "s.int8.onnx",
                   "--no-gate", "--manifest-dir", tmp_path / "cal2", "--strict-calibration")
    assert_user_error(proc, "histogram distance")
    assert not (tmp_path / "s.int8.onnx").exists()


@pytest.mark.slow
def test_damaging_calibration_fails_then_fallback_auto_passes(trained_onnx: Path, synth_data: Path, val: Path, tmp_path: Path) -> None:
    """(b) percentile 90 clips real signal: the gate (with its per-class check) fails; --fallback auto frees layers until it passes."""
    tiny_onnx = trained_onnx
    common = ["--data", synth_data / "images", "--val-data", val, "--method", "percentile", "--percentile", "90"]
    bad = tmp_path / "bad.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, *common, "--out", bad, "--manifest-dir", tmp_path / "cal-bad")
    assert_user_error(proc, "accuracy gate failed")  # after a warning: 12 calibration images (< 16)
    assert proc.returncode == 4 and "class foreground IoU" in proc.stderr and "--max-class-drop 0.03" in proc.stderr
    _trt_ok(tmp_path / "bad.int8.rejected.onnx")

    out = tmp_path / "fb.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, *common, "--out", out, "--manifest-dir", tmp_path / "cal-fb", "--fallback", "auto")
    assert proc.returncode == 0, proc.stderr
    assert "accuracy gate passed" in proc.stdout and "worst class foreground" in proc.stdout
    floats = json.loads(_meta(out)["edgeunet.float_layers"])
    assert floats and proc.stdout.count("float layers (") == 1
    manifest = _manifest(tmp_path / "cal-fb")
    assert manifest["float_layers"] == floats and manifest["fallback"]["passed"] is True and manifest["percentile"] == 90
    calibration = json.loads(_meta(out)["edgeunet.calibration"])
    from edgeunet.core.atomic import sha256_file

    assert calibration["manifest_sha256"] == sha256_file(next((tmp_path / "cal-fb").glob("*.json")))
    gate = json.loads(_meta(out)["edgeunet.gate"])
    assert gate["passed"] and gate["float_layers"] == floats
    model = onnx.load(str(out))
    by_name = {n.name: n for n in model.graph.node}
    producers = {o: n for n in model.graph.node for o in n.output}
    for name in floats:  # a float layer reads no DequantizeLinear
        assert all(producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in by_name[name].input)
    _trt_ok(out)


def test_sensitivity_report_and_keep_float(tiny_onnx: Path, synth_data: Path, val: Path, tmp_path: Path) -> None:
    """(e) table + PNG; --keep-float by hand (and a one-line error for an unknown name)."""
    report = tmp_path / "reports" / "sens.md"
    out = tmp_path / "k.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, "--data", synth_data / "images", "--val-data", val, "--out", out, "--max-drop", "1",
                   "--manifest-dir", tmp_path / "cal", "--sensitivity", report, "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    text = report.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert "| rank | layer | op | Dice float alone | drop vs fp32 | recovered | SQNR dB |" in text and len(rows) >= 10
    assert report.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    layer = rows[0].split("`")[1]
    assert _manifest(tmp_path / "cal")["sensitivity"]["order"][0] == layer
    _trt_ok(out)

    kept = tmp_path / "kept.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, "--data", synth_data / "images", "--val-data", val, "--out", kept, "--max-drop", "1",
                   "--manifest-dir", tmp_path / "cal-k", "--keep-float", layer, "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(_meta(kept)["edgeunet.float_layers"]) == [layer]
    _trt_ok(kept)

    proc = run_cli("calibrate", tiny_onnx, "--data", synth_data / "images", "--val-data", val, "--out", tmp_path / "x.int8.onnx",
                   "--manifest-dir", tmp_path / "cal-x", "--keep-float", "no/such/Conv")
    assert_user_error(proc, "--keep-float no/such/Conv: no such layer in the model; valid names")
    assert "/Conv" in proc.stderr.split("valid names")[1] and not (tmp_path / "x.int8.onnx").exists()


def test_real_data_statistics_tell_domains_and_channel_order(isbi: Path, tmp_path: Path) -> None:
    """On the shared data: ISBI test images pass as ISBI, CamVid frames do not; CamVid saved BGR-swapped is named."""
    if not CAMVID_IMAGES.is_dir():
        pytest.skip(f"CamVid not found at {CAMVID_IMAGES}")
    from edgeunet.core.spec import ModelSpec
    from edgeunet.data.data_stats import compare_stats, compute_data_stats

    gray, rgb = ModelSpec(in_channels=1), ModelSpec(in_channels=3, channel_order="rgb", mean=[0.5] * 3, std=[0.25] * 3)
    isbi_stats = compute_data_stats(sorted((isbi / "images").iterdir()), gray)
    isbi_test = sorted((isbi.parent / "test" / "images").iterdir())[:16]
    frames = sorted(CAMVID_IMAGES.iterdir())
    order = np.random.default_rng(1).permutation(len(frames))
    train, calib = [frames[i] for i in order[:48]], [frames[i] for i in order[100:116]]
    assert compare_stats(isbi_stats, compute_data_stats(isbi_test, gray))["findings"] == []
    assert any("histogram distance" in f for f in compare_stats(isbi_stats, compute_data_stats(calib, gray))["findings"])
    camvid_stats = compute_data_stats(train, rgb)
    assert compare_stats(camvid_stats, compute_data_stats(calib, rgb))["findings"] == []
    (tmp_path / "bgr").mkdir()
    for path in calib:
        cv2.imwrite(str(tmp_path / "bgr" / path.name), cv2.imread(str(path))[:, :, ::-1])
    swapped = compare_stats(camvid_stats, compute_data_stats(sorted((tmp_path / "bgr").iterdir()), rgb))["findings"]
    assert swapped == ["channel means swapped? (BGR vs RGB)"]
