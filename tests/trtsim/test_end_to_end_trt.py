"""End-to-end ONNX under the emulated TensorRT 8.5 (float32 frame), 10.3 and 11 (uint8 frame): parse, build, run.

The emulator proves the parser accepts every wrapper op for the types it gets, that build-engine's profile is the frame
size and that the engine runner hands the frame and mask through; never GPU speed (results are ONNX Runtime's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Tuple

import cv2
import numpy as np
import pytest

from tests.conftest import run_cli
from tests.trtsim import installed
from tests.trtsim.fixtures import PURGE
from tests.trtsim.test_cli_trt import cli

FRAME_DTYPE = {"8.5": "float32", "10.3": "uint8", "11": "uint8"}


@pytest.fixture(params=sorted(FRAME_DTYPE))
def version_and_model(request: pytest.FixtureRequest, tmp_path: Path, tiny_onnx: Path) -> Iterator[Tuple[Any, Path]]:
    version = request.param
    model = tmp_path / "tiny.e2e.onnx"
    proc = run_cli("export", tiny_onnx, "--end-to-end", "--frame-size", "96x128", "--overlay", "--frame-dtype", FRAME_DTYPE[version],
                   "--out", model)
    assert proc.returncode == 0, proc.stderr
    with installed(version, purge=PURGE) as trt:
        yield trt, model


def test_build_and_infer_like_onnxruntime(version_and_model: Tuple[Any, Path], capsys: Any, synth_data: Path, tmp_path: Path) -> None:
    trt, model = version_and_model
    code, out, err = cli(capsys, "build-engine", model)
    assert code == 0, out + err
    engine = model.with_name("tiny.e2e.fp32.engine")
    sidecar = json.loads(Path(f"{engine}.json").read_text())
    assert sidecar["tensorrt_version"] == trt.__version__ and sidecar["spec"]["io"] == "end-to-end"
    for name, path in (("trt", engine), ("ort", model)):
        code, out, err = cli(capsys, "infer", path, synth_data / "images", "--out", tmp_path / name, "--device", "auto")
        assert code == 0, out + err
    trt_masks = sorted((tmp_path / "trt" / "masks").glob("*.png"))
    assert trt_masks
    for mask in trt_masks:
        a = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(tmp_path / "ort" / "masks" / mask.name), cv2.IMREAD_UNCHANGED)
        assert a.shape == (64, 64) and np.array_equal(a, b)


def test_engine_streams_frames_of_its_size(version_and_model: Tuple[Any, Path], capsys: Any, tmp_path: Path) -> None:
    _, model = version_and_model
    video = tmp_path / "frames.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for i in range(8):
        writer.write(np.full((96, 128, 3), 30 * i, np.uint8))
    writer.release()
    engine = tmp_path / "e2e.engine"
    assert cli(capsys, "build-engine", model, "--out", engine)[0] == 0
    code, out, err = cli(capsys, "stream", engine, video, "-o", "null", "--max-frames", "4")
    assert code == 0, out + err
    assert "warning: frames" not in err
    assert "resize, mask and overlay inside the model" in out


def test_the_engine_hands_back_the_graphs_overlay(version_and_model: Tuple[Any, Path], capsys: Any, tmp_path: Path) -> None:
    """One inference gives mask and overlay (the runner returns every output), like ONNX Runtime on the same file."""
    from edgeunet.runtime.base import load_backend

    _, model = version_and_model
    engine = tmp_path / "e2e.engine"
    assert cli(capsys, "build-engine", model, "--out", engine)[0] == 0
    frame = np.random.default_rng(0).integers(0, 256, (1, 96, 128, 3), dtype=np.uint8)
    views = []
    for path in (engine, model):
        with load_backend(path, device="auto") as backend:
            batch = frame.astype(np.float32) if backend.spec.frame_dtype == "float32" else frame
            mask, view = backend.run_with_overlay(batch)
            assert view is not None and view.shape == (96, 128, 3) and view.dtype == np.uint8
            views.append(view)
    assert np.array_equal(views[0], views[1])


def test_a_mask_only_engine_hands_back_no_overlay(capsys: Any, tmp_path: Path, tiny_onnx: Path) -> None:
    from edgeunet.runtime.base import load_backend

    model = tmp_path / "mask-only.e2e.onnx"
    assert run_cli("export", tiny_onnx, "--end-to-end", "--frame-size", "96x128", "--out", model).returncode == 0
    with installed("10.3", purge=PURGE):
        engine = tmp_path / "mask-only.engine"
        assert cli(capsys, "build-engine", model, "--out", engine)[0] == 0
        with load_backend(engine, device="auto") as backend:
            mask, view = backend.run_with_overlay(np.zeros((1, 96, 128, 3), np.uint8))
    assert view is None and mask.shape[-2:] == (96, 128)
