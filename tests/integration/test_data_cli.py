"""`edgeunet data check | preview | synth` on real ISBI data and on synthetic data."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from tests.conftest import assert_user_error, run_cli


def test_check_isbi_reports_balance_with_membrane_positive(isbi: Path) -> None:
    proc = run_cli("data", "check", isbi, "--positive-value", "0")
    assert proc.returncode == 0, proc.stderr
    assert "30 images, 30 masks" in proc.stdout and "512x512 x30" in proc.stdout
    # ISBI: about 22% membrane (value 0), which is class 1 here.
    line = next(text for text in proc.stdout.splitlines() if text.startswith("classes:"))
    share = float(line.split("1: ")[1].rstrip("%")) / 100
    assert 0.18 < share < 0.26
    assert "no problems found" in proc.stdout


def test_preview_with_augmentation(synth_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("albumentations")
    out = tmp_path / "preview.png"
    proc = run_cli("data", "preview", synth_data, "--out", out, "--augment", "--count", "3")
    assert proc.returncode == 0, proc.stderr
    image = cv2.imread(str(out))
    assert image.shape[0] > 3 * 60 and image.shape[1] > 4 * 60  # 3 rows; image, mask, 3 augmented


def test_synth_writes_pairs_and_video(tmp_path: Path) -> None:
    proc = run_cli("data", "synth", "--out", tmp_path / "d", "--count", "4", "--size", "48", "--video", tmp_path / "v.avi")
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "d" / "images").glob("*.png"))) == 4
    cap = cv2.VideoCapture(str(tmp_path / "v.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 90


def test_synth_refuses_to_overwrite_user_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    assert_user_error(run_cli("data", "synth", "--out", tmp_path / "mine"), "not an empty folder")
    assert (tmp_path / "mine" / "keep.txt").exists()
