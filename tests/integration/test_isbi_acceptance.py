"""Issue 3 acceptance on ISBI 2012 (width-16 UNet, 256x256): parity, INT8/FP16 gates, inspect, uint8 I/O.

Slow: uses runs/isbi_w16/best.pt when present (the reference run), else trains one for 15 epochs.
Run with `pytest -m slow tests/integration/test_isbi_acceptance.py -s` to see the figures.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, assert_user_error
from tests.conftest import run_cli as _run_cli

pytest.importorskip("torch")
pytestmark = pytest.mark.slow


def run_cli(*args: object, **kwargs: object):
    """From the repository root, where the reference run's relative data path (../shared/data/...) resolves."""
    return _run_cli(*map(str, args), cwd=REPO, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def checkpoint(isbi: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reference = REPO / "runs" / "isbi_w16" / "best.pt"
    if reference.is_file():  # frozen copy: the reference run may still be training and replace best.pt
        frozen = tmp_path_factory.mktemp("isbi") / "best.pt"
        shutil.copy(reference, frozen)
        return frozen
    out = tmp_path_factory.mktemp("isbi") / "run"
    proc = run_cli("train", "--data", isbi, "--positive-value", "0", "--width", "16", "--size", "256", "--epochs", "15",
                   "--out", out, "--snapshot-samples", "0", timeout=3600)
    assert proc.returncode == 0, proc.stderr
    return out / "best.pt"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("accept")


def _gate(stdout: str) -> tuple:
    match = re.search(r"Dice fp32 ([0-9.]+), \w+ ([0-9.]+), drop ([-+0-9.]+)", stdout)
    assert match, stdout
    return tuple(float(g) for g in match.groups())


def test_export_parity(checkpoint: Path, work: Path) -> None:
    proc = run_cli("export", checkpoint, "--out", work / "isbi.onnx")
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout)
    line = next(line for line in proc.stdout.splitlines() if line.startswith("parity"))
    dp = float(line.split("max|Δp| ")[1].split(",")[0])
    agreement = float(line.split("mask agreement ")[1].rstrip("%")) / 100
    assert dp <= 1e-4 and agreement >= 0.999, line


def test_int8_inspect_and_gate(work: Path, isbi: Path) -> None:
    proc = run_cli("calibrate", work / "isbi.onnx", "--data", isbi, "--manifest-dir", work / "calibration")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    ref, cand, drop = _gate(proc.stdout)
    assert drop <= 0.01
    proc = run_cli("inspect", work / "isbi.int8.onnx", "--strict", "--json", work / "int8.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((work / "int8.json").read_text())
    q = report["quantization"]
    print(report["opset"], q)
    assert report["opset"] >= 13 and q["nonzero_zero_points"] == 0 and q["zero_point_dtypes"] == ["int8"]
    assert q["weights_per_channel_axis0"] == q["weights_total"] == report["ops"]["Conv"]


def test_fp16_gate(work: Path) -> None:
    proc = run_cli("convert", work / "isbi.onnx", "--fp16", "--max-drop", "0.002")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert abs(_gate(proc.stdout)[2]) <= 0.002


def test_bad_calibration_fails_the_gate(work: Path) -> None:
    noise = work / "noise"
    noise.mkdir()
    cv2.imwrite(str(noise / "noise.png"), np.random.default_rng(0).integers(0, 256, (512, 512), dtype=np.uint8))
    proc = run_cli("calibrate", work / "isbi.onnx", "--data", noise, "--out", work / "bad.int8.onnx", "--max-drop", "0.001",
                   "--method", "minmax", "--manifest-dir", work / "calibration")
    print(proc.stderr)
    assert_user_error(proc, "accuracy gate failed")
    assert proc.returncode == 4 and (work / "bad.int8.rejected.onnx").exists() and not (work / "bad.int8.onnx").exists()


def test_uint8_io_same_masks(checkpoint: Path, work: Path, isbi: Path) -> None:
    proc = run_cli("export", checkpoint, "--out", work / "isbi_u8.onnx", "--io", "uint8")
    assert proc.returncode == 0, proc.stderr
    from edgeunet.core.images import read_image
    from edgeunet.data.dataset import find_samples
    from edgeunet.data.splits import split_samples
    from edgeunet.runtime.segmenter import Segmenter

    _, val, _ = split_samples(find_samples(isbi), 0.2, 0, seed=0)
    u8 = Segmenter(work / "isbi_u8.onnx")
    others = {"torch": Segmenter(checkpoint, device="cpu"), "onnxruntime float": Segmenter(work / "isbi.onnx")}
    for name, seg in others.items():
        agree = total = 0
        for sample in val:
            image = cv2.resize(read_image(sample.image), (256, 256), interpolation=cv2.INTER_AREA)  # model resolution
            a, b = seg.predict(image), u8.predict(image)
            agree += int((a == b).sum())
            total += a.size
        print(f"uint8 I/O vs {name}: {agree / total:.5%}")
        assert agree / total >= 0.999
