"""Segmenter: frame in, mask out, through any backend; a context manager that closes its backend once; the upsample choice
reaches postprocess (evaluate and infer go through Segmenter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.base import load_backend
from edgeunet.runtime.segmenter import Segmenter
from tests.unit.runtime.backend_contract import frames


@pytest.mark.parametrize("fixture", ["tiny_pt", "tiny_dyn_onnx"])
def test_predict_gives_a_mask_of_the_frame_size(fixture: str, request: pytest.FixtureRequest) -> None:
    frame = np.repeat(np.repeat(frames(1)[0], 3, axis=0), 2, axis=1)  # 96x64: not the model's 32x32
    with Segmenter(request.getfixturevalue(fixture), device="cpu") as seg:
        mask = seg.predict(frame)
        assert mask.shape == frame.shape[:2] and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert seg.backend.closed


def test_both_backends_agree(tiny_pt: Path, tiny_dyn_onnx: Path) -> None:
    frame = frames(1)[0]
    with Segmenter(tiny_pt, device="cpu") as a, Segmenter(tiny_dyn_onnx, device="cpu") as b:
        assert (a.predict(frame) == b.predict(frame)).mean() > 0.99


def test_an_open_backend_is_used_and_closed_once(tiny_dyn_onnx: Path) -> None:
    backend = load_backend(tiny_dyn_onnx, threads=1)
    seg = Segmenter(backend)
    assert seg.spec is backend.spec
    seg.close()
    seg.close()
    assert backend.closed
    with pytest.raises(EdgeUnetError, match="closed"):
        seg.predict(frames(1)[0])


def test_options_reach_the_backend(tiny_dyn_onnx: Path) -> None:
    with Segmenter(tiny_dyn_onnx, backend="onnxruntime", device="cpu", threads=1, opt_level="basic") as seg:
        assert seg.backend.opt_level == "basic"
    with pytest.raises(EdgeUnetError, match="unknown backend option"):
        Segmenter(tiny_dyn_onnx, thread=1)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--backend", "trt"], "--backend trt: unknown backend; known: auto, torch, onnxruntime, tensorrt"),
    (["--backend", "onnxruntme"], "(did you mean onnxruntime?)"),
    (["--backend", "torch"], "not a readable PyTorch checkpoint"),
])
def test_cli_backend_mistakes_are_one_line(tiny_dyn_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           args: list, fragment: str) -> None:
    import cv2

    from edgeunet.cli import main

    cv2.imwrite(str(tmp_path / "a.png"), frames(1)[0])
    with pytest.raises(SystemExit) as exit_info:
        main(["infer", str(tiny_dyn_onnx), str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), *args])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code != 0 and len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "out").exists()


class FakeBackend:
    """Noisy 5-class logits at the model grid, so that the two paths have boundaries to agree on."""

    name, precision, device = "fake", "fp32", "cpu"

    def __init__(self) -> None:
        self.spec = ModelSpec(in_channels=3, num_classes=5, channel_order="rgb", input_size=[16, 24], mean=[0.5] * 3, std=[0.25] * 3)

    def run(self, batch: np.ndarray) -> Any:
        return np.random.default_rng(0).standard_normal((1, 5, 16, 24)).astype(np.float32)

    def close(self) -> None:
        pass


def test_fast_and_reference_masks_agree() -> None:
    frame = np.zeros((70, 90, 3), np.uint8)
    fast, ref = Segmenter(FakeBackend()), Segmenter(FakeBackend(), upsample="logits")
    assert fast.upsample == "fast" and ref.upsample == "logits"
    assert np.array_equal(fast.predict(frame), ref.predict(frame))


def test_unknown_upsample_is_refused_before_loading() -> None:
    with pytest.raises(EdgeUnetError, match="--upsample"):
        Segmenter("missing.onnx", upsample="nearest")
