"""Issue 13, real scenes: void pixels, class balance, rectangular and letterboxed inputs, native-scale crops, EMA."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import assert_user_error, run_cli

pytest.importorskip("torch")

VOID = 3  # mask value of unlabelled pixels in the scenes below (like CamVid's 11)
FAST = ["--epochs", "1", "--width", "4", "--snapshot-samples", "0"]


def _scene(rng: np.random.Generator, height: int, width: int) -> tuple:
    """Dark road (0), a bright box (1), a mid-grey disc (2) and an unlabelled band (VOID) at the bottom."""
    image = np.full((height, width, 3), 40, np.uint8)
    mask = np.zeros((height, width), np.uint8)
    x, y = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    cv2.rectangle(image, (x, y), (x + width // 3, y + height // 3), (220, 220, 60), -1)
    cv2.rectangle(mask, (x, y), (x + width // 3, y + height // 3), 1, -1)
    cx, cy, r = int(rng.integers(0, width)), int(rng.integers(0, height)), max(3, height // 6)
    cv2.circle(image, (cx, cy), r, (90, 150, 240), -1)
    cv2.circle(mask, (cx, cy), r, 2, -1)
    mask[-max(2, height // 8):] = VOID
    image += rng.integers(0, 20, image.shape, dtype=np.uint8)
    return image, mask


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 colour 48x64 scenes with 3 classes and void (mask values 0, 1, 2, 3)."""
    root = tmp_path_factory.mktemp("scenes") / "street"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        image, mask = _scene(rng, 48, 64)
        cv2.imwrite(str(root / "images" / f"{i:02d}.png"), image)
        cv2.imwrite(str(root / "masks" / f"{i:02d}.png"), mask)
    return root


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory, scenes: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "scenes"
    proc = run_cli("train", "--data", scenes, "--out", out, "--classes", "4", "--ignore-index", str(VOID),
                   "--class-names", "road,box,disc,void", "--class-weights", "auto", "--size", "32x48", "--resize", "letterbox",
                   "--ema", "--epochs", "2", "--width", "4", "--batch-size", "4", "--snapshot-samples", "1")
    assert proc.returncode == 0, proc.stderr
    assert "32x48 (letterbox)" in proc.stdout
    return out


def test_void_is_ignored_and_recorded_everywhere(scene_run: Path, scenes: Path, tmp_path: Path) -> None:
    from edgeunet.model.checkpoint import load_checkpoint, spec_of

    spec = spec_of(load_checkpoint(scene_run / "best.pt"), "best.pt")
    assert (spec.num_classes, spec.class_names, spec.ignore_index) == (3, ["road", "box", "disc"], VOID)
    assert (spec.input_size, spec.resize) == ([32, 48], "letterbox")
    weights = json.loads((scene_run / "class_weights.json").read_text())
    assert weights["method"] == "median_frequency" and list(weights["weights"]) == ["road", "box", "disc"]
    header = (scene_run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[-3:] == ["val_iou_road", "val_iou_box", "val_iou_disc"]
    snapshot = cv2.imread(str(sorted((scene_run / "snapshots").glob("*.png"))[-1]))
    assert ((snapshot == 128).all(axis=2)).any()  # void drawn grey

    proc = run_cli("evaluate", scene_run / "best.pt", "--data", scenes, "--json", tmp_path / "m.json", "--confusion", tmp_path / "c.png")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "m.json").read_text())
    assert sorted(result["iou_per_class"]) == ["box", "disc", "road"]
    counted = np.asarray(result["confusion"]).sum()
    void_pixels = sum(int((cv2.imread(str(p), cv2.IMREAD_UNCHANGED) == VOID).sum()) for p in (scenes / "masks").glob("*.png"))
    assert counted == 12 * 48 * 64 - void_pixels  # void pixels are in no metric
    assert cv2.imread(str(tmp_path / "c.png")) is not None


def test_letterboxed_rectangular_model_exports_and_scores_alike(scene_run: Path, scenes: Path, tmp_path: Path) -> None:
    onnx = tmp_path / "scenes.onnx"
    proc = run_cli("export", scene_run / "best.pt", "--out", onnx, "--parity-data", scenes)
    assert proc.returncode == 0, proc.stderr
    assert "1x32x48" in proc.stdout
    from edgeunet.core.onnx_model import read_spec

    assert read_spec(onnx).resize == "letterbox"
    results = []
    for model in (scene_run / "best.pt", onnx):
        proc = run_cli("evaluate", model, "--data", scenes, "--json", tmp_path / f"{model.suffix[1:]}.json")
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads((tmp_path / f"{model.suffix[1:]}.json").read_text()))
    assert results[0]["miou"] == pytest.approx(results[1]["miou"], abs=2e-3)


def test_crop_training_validates_and_infers_on_whole_frames(scenes: Path, tmp_path: Path) -> None:
    out = tmp_path / "crop"
    proc = run_cli("train", "--data", scenes, "--out", out, "--classes", "4", "--ignore-index", str(VOID), "--crop", "32",
                   "--epochs", "2", "--width", "4", "--batch-size", "4", "--snapshot-samples", "1")
    assert proc.returncode == 0, proc.stderr
    from edgeunet.model.checkpoint import load_checkpoint, spec_of

    spec = spec_of(load_checkpoint(out / "best.pt"), "best.pt")
    assert (spec.resize, spec.input_size) == ("native", [32, 32])
    proc = run_cli("infer", out / "best.pt", scenes / "images", "--out", tmp_path / "pred", "--no-overlays")
    assert proc.returncode == 0, proc.stderr
    mask = cv2.imread(str(tmp_path / "pred" / "masks" / "00.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (48, 64)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--classes", "4", "--ignore-index", "7"], "--ignore-index 7"),
        (["--mask-map", "0:0,1:1,2:1,3:1", "--ignore-index", "2"], "--ignore-index 2"),
        (["--classes", "4", "--class-weights", "1,2"], "2 weights for 4 classes"),
        (["--classes", "4", "--ignore-index", "3", "--class-weights", "1,2,3,4"], "4 weights for 3 classes"),
        (["--classes", "4", "--class-weights", "heavy"], "--class-weights heavy"),
        (["--classes", "4", "--size", "0x5"], "--size 0x5"),
        (["--classes", "4", "--size", "32x50"], "--size 32x50"),
        (["--classes", "4", "--size", "big"], "--size big"),
        (["--classes", "4", "--resize", "squash"], "--resize"),
        (["--classes", "4", "--crop", "128"], "--crop 128x128 is larger than"),
        (["--classes", "4", "--crop", "0"], "--crop 0"),
        (["--classes", "4", "--crop", "32", "--size", "64"], "--crop and --size"),
        (["--classes", "4", "--ema", "--ema-decay", "1.5"], "--ema-decay"),
    ],
)
def test_bad_scene_options_are_one_line(scenes: Path, tmp_path: Path, extra: list, fragment: str) -> None:
    out = tmp_path / "run"
    proc = run_cli("train", "--data", scenes, "--out", out, *FAST, *extra)
    assert_user_error(proc, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--tile", "100"], "--tile 100"),
        (["--tile", "64", "--overlap", "32"], "--overlap 32"),
        (["--size", "huge"], "--size"),
        (["--confusion", "c.jpg"], "--confusion"),
    ],
)
def test_bad_evaluate_options_are_one_line(tiny_run: Path, synth_data: Path, tmp_path: Path, extra: list, fragment: str) -> None:
    extra = [str(tmp_path / e) if e.endswith(".jpg") else e for e in extra]
    proc = run_cli("evaluate", tiny_run / "best.pt", "--data", synth_data, "--json", tmp_path / "m.json", *extra)
    assert_user_error(proc, fragment)
    assert not (tmp_path / "m.json").exists() and not list(tmp_path.glob("*.jpg"))


@pytest.mark.slow
def test_tiled_prediction_of_a_2048_frame_agrees_with_the_whole_frame(synth_data: Path, tmp_path: Path) -> None:
    """Objects straddle every tile border; blended 512-pixel tiles must agree with one whole-frame pass (>= 99.5%)."""
    out = tmp_path / "crop"
    proc = run_cli("train", "--data", synth_data, "--out", out, "--crop", "48", "--epochs", "6", "--width", "8",
                   "--batch-size", "4", "--lr", "3e-3", "--snapshot-samples", "0")
    assert proc.returncode == 0, proc.stderr
    from edgeunet.data.synth import _render
    from edgeunet.evaluate.tiling import frame_predictor
    from edgeunet.runtime.segmenter import Segmenter

    rng = np.random.default_rng(3)
    seams = [448 * k for k in range(1, 5)] + [1536]  # where 512-pixel tiles with 64 overlap meet
    cells = [(float(x + rng.uniform(-6, 6)), float(rng.uniform(0, 2048)), 7.0, 5.0, float(rng.uniform(0, 180)), 0.0, 0.0)
             for x in seams for _ in range(40)]
    cells += [(float(rng.uniform(0, 2048)), float(y + rng.uniform(-6, 6)), 6.0, 5.0, 0.0, 0.0, 0.0) for y in seams for _ in range(40)]
    cells += [(float(rng.uniform(0, 2048)), float(rng.uniform(0, 2048)), float(rng.uniform(3, 8)), 4.0, 0.0, 0.0, 0.0) for _ in range(600)]
    frame, _ = _render(cells, 2048, 2048, rng)
    seg = Segmenter(out / "best.pt", device="cpu")
    whole = frame_predictor(seg, "native", None, 0)(frame)
    tiled = frame_predictor(seg, None, 512, 64)(frame)
    agreement = float((whole == tiled).mean())
    print(f"tiled vs whole agreement: {agreement:.5f}; foreground share {float(whole.mean()):.3f}")
    assert whole.shape == tiled.shape == (2048, 2048)
    assert agreement >= 0.995


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--size", "native"], "--size native: this model's input is fixed at"),
        (["--tile", "48"], "--tile 48: this model's input is fixed at"),
    ],
)
def test_fixed_shape_onnx_refuses_native_frames_in_one_line(tiny_onnx: Path, synth_data: Path, tmp_path: Path,
                                                              extra: list, fragment: str) -> None:
    proc = run_cli("evaluate", tiny_onnx, "--data", synth_data, "--json", tmp_path / "m.json", *extra)
    assert_user_error(proc, fragment)
    assert "--dynamic" in proc.stderr or "--tile" in proc.stderr
    assert not (tmp_path / "m.json").exists()


def test_dynamic_onnx_takes_native_frames(tiny_run: Path, synth_data: Path, tmp_path: Path) -> None:
    onnx = tmp_path / "dynamic.onnx"
    proc = run_cli("export", tiny_run / "best.pt", "--out", onnx, "--dynamic")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("evaluate", onnx, "--data", synth_data, "--size", "native", "--json", tmp_path / "m.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "m.json").read_text())["images"] > 0


def test_rectangular_model_through_every_stage(scene_run: Path, scenes: Path, vtest: Path, tmp_path: Path) -> None:
    """export -> calibrate -> inspect --trt -> bench -> stream on vtest.avi: the 32x48 letterbox shape is kept end to end."""
    onnx = tmp_path / "rect.onnx"
    assert run_cli("export", scene_run / "best.pt", "--out", onnx).returncode == 0
    int8 = tmp_path / "rect.int8.onnx"
    proc = run_cli("calibrate", onnx, "--data", scenes / "images", "--out", int8, "--num-images", "8", "--no-gate",
                   "--manifest-dir", tmp_path / "cal")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("inspect", int8, "--trt", "10.3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "32x48" in proc.stdout or "[1, 3, 32, 48]" in proc.stdout or "1x3x32x48" in proc.stdout, proc.stdout
    report = tmp_path / "bench.json"
    proc = run_cli("bench", onnx, "--backends", "onnxruntime", "--precisions", "fp32", "--data", scenes, "--warmup", "0",
                   "--iterations", "3", "--cache", tmp_path / "cache", "--json", report)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(report.read_text())["rows"]
    assert rows and all(list(row["size"]) == [32, 48] for row in rows if "size" in row), rows
    frames = tmp_path / "frames"
    proc = run_cli("stream", int8, vtest, "-o", f"{frames}/", "--max-frames", "5", "--no-hud")
    assert proc.returncode == 0, proc.stderr
    shapes = {cv2.imread(str(p)).shape[:2] for p in frames.glob("*.jpg")}
    assert shapes == {(576, 768)}
