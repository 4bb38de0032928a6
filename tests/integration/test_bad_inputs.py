"""Every user mistake gives one line naming the problem, a non-zero exit, no traceback, no partial output."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import assert_user_error, run_cli

pytest.importorskip("torch")

FAST = ["--epochs", "1", "--width", "4", "--size", "32", "--snapshot-samples", "0"]


@pytest.fixture()
def data(tmp_path: Path, synth_data: Path) -> Path:
    """A private copy of the synthetic set that each test may break."""
    return Path(shutil.copytree(synth_data, tmp_path / "data"))


def _train(data: Path, out: Path, *extra: str):
    return run_cli("train", "--data", data, "--out", out, *FAST, *extra)


def _no_output(out: Path) -> None:
    assert not (out / "last.pt").exists() and not (out / "best.pt").exists()
    assert not list(out.parent.rglob(".*.tmp"))


def test_missing_folder(tmp_path: Path) -> None:
    assert_user_error(_train(tmp_path / "nope", tmp_path / "run"), "no such folder")
    assert not (tmp_path / "run").exists()


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_user_error(_train(tmp_path / "empty", tmp_path / "run"), "no images/ folder")


def test_images_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "d" / "images").mkdir(parents=True)
    (tmp_path / "d" / "masks").mkdir()
    assert_user_error(_train(tmp_path / "d", tmp_path / "run"), "no images")


def test_image_without_mask(data: Path, tmp_path: Path) -> None:
    (data / "masks" / "003.png").unlink()
    assert_user_error(_train(data, tmp_path / "run"), "have no mask")


def test_mask_size_differs(data: Path, tmp_path: Path) -> None:
    cv2.imwrite(str(data / "masks" / "005.png"), np.zeros((10, 12), np.uint8))
    assert_user_error(_train(data, tmp_path / "run"), "must match their images")
    _no_output(tmp_path / "run")


def test_unexpected_mask_values(data: Path, tmp_path: Path) -> None:
    cv2.imwrite(str(data / "masks" / "007.png"), np.full((64, 64), 128, np.uint8))
    proc = _train(data, tmp_path / "run")
    assert_user_error(proc, "not in the mapping")
    _no_output(tmp_path / "run")


def test_corrupt_image(data: Path, tmp_path: Path) -> None:
    path = data / "images" / "002.png"
    path.write_bytes(path.read_bytes()[:40])
    assert_user_error(_train(data, tmp_path / "run"), "not a readable image")
    _no_output(tmp_path / "run")


def test_non_image_file_with_image_name(data: Path, tmp_path: Path) -> None:
    (data / "images" / "004.png").unlink()
    (data / "images" / "004.jpg").write_text("this is a text file")
    assert_user_error(_train(data, tmp_path / "run"), "004.jpg")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [("--epochs", "0", "--epochs"), ("--lr", "-1", "--lr"), ("--batch-size", "abc", "--batch-size"),
     ("--size", "100", "multiple of 16"), ("--val-ratio", "1.5", "--val-ratio"), ("--alpha", "2", "--alpha")],
)
def test_bad_numeric_options(data: Path, tmp_path: Path, option: str, value: str, fragment: str) -> None:
    proc = run_cli("train", "--data", data, "--out", tmp_path / "run", option, value)
    assert_user_error(proc, fragment)
    assert not (tmp_path / "run").exists()


def test_unwritable_out(data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_user_error(_train(data, blocker / "run"), "cannot create")


def test_out_already_holds_a_run(tiny_run: Path, synth_data: Path) -> None:
    before = (tiny_run / "last.pt").stat().st_mtime_ns
    assert_user_error(_train(synth_data, tiny_run), "already holds a run")
    assert (tiny_run / "last.pt").stat().st_mtime_ns == before


def test_resume_of_something_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notrun").mkdir()
    assert_user_error(run_cli("train", "--resume", tmp_path / "notrun"), "not an edgeunet run")


def test_resume_of_weights_only_checkpoint(tiny_run: Path) -> None:
    assert_user_error(run_cli("train", "--resume", tiny_run / "best.pt"), "weights only")


def test_file_that_is_not_a_checkpoint(tmp_path: Path, synth_data: Path) -> None:
    fake = tmp_path / "model.pt"
    fake.write_text("not a checkpoint")
    assert_user_error(run_cli("evaluate", fake, "--data", synth_data), "not a readable PyTorch checkpoint")


def test_unknown_model_type(tmp_path: Path, synth_data: Path) -> None:
    other = tmp_path / "model.h5"
    other.write_text("x")
    assert_user_error(run_cli("evaluate", other, "--data", synth_data), "unknown model type")


def test_cuda_without_gpu(data: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert_user_error(_train(data, tmp_path / "run", "--device", "cuda"), "no CUDA GPU")


def test_config_with_unknown_key(data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochz: 3\n")
    assert_user_error(run_cli("train", "--config", cfg, "--data", data), "unknown option(s) epochz")


def test_malformed_mask_map(data: Path, tmp_path: Path) -> None:
    assert_user_error(_train(data, tmp_path / "run", "--mask-map", "0-1"), "--mask-map")


def test_data_check_lists_problems_and_fails(data: Path) -> None:
    cv2.imwrite(str(data / "masks" / "001.png"), np.full((64, 64), 9, np.uint8))
    proc = run_cli("data", "check", data)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "problem:" in proc.stdout and "001.png" in proc.stdout
