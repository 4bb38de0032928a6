"""runtime.base: the Backend lifecycle (on a stand-in backend), BackendOptions, and the factory's one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.base import Backend, BackendOptions, backend_for, load_backend


class Doubler(Backend):
    """The smallest backend: what a newcomer's subclass implements (_run, _release)."""

    name = "doubler"

    def __init__(self) -> None:
        self.spec = ModelSpec()
        self.released: List[int] = []

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return batch * 2

    def _release(self) -> None:
        self.released.append(1)


def test_lifecycle_of_a_subclass() -> None:
    with Doubler() as backend:
        assert backend.run(np.ones(2)).tolist() == [2.0, 2.0] and not backend.closed
    assert backend.closed and backend.released == [1]
    backend.close()
    assert backend.released == [1]
    with pytest.raises(EdgeUnetError, match="the doubler backend was closed; open the model again"):
        backend.run(np.ones(2))


def test_a_graph_without_an_overlay_output_gives_none_and_a_closed_backend_refuses() -> None:
    with Doubler() as backend:
        output, view = backend.run_with_overlay(np.ones(2))
        assert output.tolist() == [2.0, 2.0] and view is None
    with pytest.raises(EdgeUnetError, match="the doubler backend was closed; open the model again"):
        backend.run_with_overlay(np.ones(2))


def test_the_base_has_nothing_to_run_or_release() -> None:
    bare = Backend()
    with pytest.raises(NotImplementedError):
        bare.run(np.ones(1))
    with pytest.raises(NotImplementedError):
        bare.close()


def test_options_become_keyword_arguments_in_one_place() -> None:
    assert BackendOptions().kwargs() == {"device": "auto"}
    assert BackendOptions(device="cpu", threads=2, opt_level="basic", spinning=False, half=True).kwargs() == {
        "device": "cpu", "threads": 2, "opt_level": "basic", "spinning": False, "half": True}
    assert BackendOptions.of(device="cpu", threads=1) == BackendOptions(device="cpu", threads=1)
    with pytest.raises(EdgeUnetError, match="unknown backend option thread; known: device, threads, opt_level, spinning, half"):
        BackendOptions.of(thread=1)


def test_backend_for_reads_the_registry(tmp_path: Path) -> None:
    assert backend_for(Path("m.pt")) == "torch"
    assert backend_for(Path("m.ONNX")) == "onnxruntime"
    assert backend_for(Path("m.plan")) == "tensorrt"
    assert backend_for(Path("m.onnx"), "tensorrt") == "tensorrt"
    with pytest.raises(EdgeUnetError, match=r"m.tflite: unknown model type .tflite; expected .pt, .pth, .onnx, .engine or .plan"):
        backend_for(Path("m.tflite"))
    with pytest.raises(EdgeUnetError, match="--backend ort: unknown backend; known: auto, torch, onnxruntime, tensorrt"):
        backend_for(Path("m.onnx"), "ort")


def test_load_backend_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="no such model file"):
        load_backend(tmp_path / "missing.onnx")
    with pytest.raises(EdgeUnetError, match="is a folder"):
        load_backend(tmp_path)
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    with pytest.raises(EdgeUnetError, match="did you mean onnxruntime"):
        load_backend(model, "onnxruntim")
    with pytest.raises(EdgeUnetError, match="unknown backend option opt"):
        load_backend(model, opt="all")
