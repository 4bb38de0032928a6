"""The contract every backend passes: one class of tests, inherited by each backend's test module (torch, ONNX Runtime,
TensorRT under the emulator of each version), which then only says how to get its model file.

segmentation_models.pytorch's tests/models/base.py is the model: the same assertions for every implementation, so a
backend cannot pass with weaker checks than the others. A newcomer's backend gets these tests by subclassing
`BackendContract` and providing the `model_path` fixture.

Also here: a tiny checkpoint and its ONNX (width 4, depth 2, 32x32, dynamic batch), made in seconds without training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.precisions import PRECISIONS
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.base import Backend, load_backend
from edgeunet.runtime.registry import get_backend

SIZE = 32
ARCH = {"in_channels": 1, "out_channels": 1, "width": 4, "depth": 2}


def make_checkpoint(path: Path) -> Path:
    """An untrained binary UNet (seeded) saved as an edgeunet checkpoint."""
    import torch

    from edgeunet.model.checkpoint import save_checkpoint
    from edgeunet.model.unet import UNet

    torch.manual_seed(0)
    spec = ModelSpec(input_size=[SIZE, SIZE], size_multiple=4)
    save_checkpoint(path, {"spec": spec.to_dict(), "model": dict(ARCH), "state_dict": UNet(**ARCH).state_dict()})
    return path


def make_onnx(checkpoint: Path, out: Path) -> Path:
    """`checkpoint` exported with a symbolic batch (so one file serves every batch of the contract)."""
    from edgeunet.export.onnx_export import export_onnx

    return export_onnx(checkpoint, out, simplify=False, dynamic=True, parity_images=1).path


def frames(count: int) -> List[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, size=(SIZE, SIZE), dtype=np.uint8) for _ in range(count)]


class BackendContract:
    """Shapes, dtypes, batch, close twice, use after close: the same for every backend.

    Subclasses set `name` (the registry name) and provide a `model_path` fixture; `device` and `open` may be
    overridden (TensorRT opens inside its emulator). `after_close` is where a backend checks it freed what it held.
    """

    name: str = ""
    device: str = "cpu"
    batches = (1, 3)

    def open(self, model_path: Path) -> Backend:
        return load_backend(model_path, self.name, self.device)

    def after_close(self, backend: Backend) -> None:
        """Resources a closed backend must no longer hold (overridden where they can be observed)."""

    @pytest.fixture
    def backend(self, model_path: Path) -> Iterator[Backend]:
        opened = self.open(model_path)
        yield opened
        opened.close()

    def batch(self, spec: ModelSpec, count: int) -> np.ndarray:
        return np.concatenate([preprocess(frame, spec) for frame in frames(count)])

    # -- what it is
    def test_registered_under_its_name(self, backend: Backend) -> None:
        assert isinstance(backend, Backend) and isinstance(backend, get_backend(self.name).load())
        assert backend.name == self.name

    def test_describes_itself(self, backend: Backend) -> None:
        assert backend.precision in PRECISIONS
        assert isinstance(backend.spec, ModelSpec) and list(backend.spec.input_size) == [SIZE, SIZE]
        assert isinstance(backend.device, str) and backend.device
        assert not backend.closed

    # -- what it computes
    def test_output_shape_and_dtype(self, backend: Backend) -> None:
        out = backend.run(self.batch(backend.spec, 1))
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        assert out.shape == (1, backend.spec.out_channels, SIZE, SIZE)
        assert np.isfinite(out).all()

    def test_batch_rows_match_single_runs(self, backend: Backend) -> None:
        for count in self.batches:
            x = self.batch(backend.spec, count)
            out = backend.run(x)
            assert out.shape[0] == count
            for i in range(count):
                np.testing.assert_allclose(out[i], backend.run(x[i:i + 1])[0], rtol=1e-3, atol=1e-4)

    def test_float64_input_is_accepted(self, backend: Backend) -> None:
        x = self.batch(backend.spec, 1)
        np.testing.assert_allclose(backend.run(x.astype(np.float64)), backend.run(x), rtol=1e-4, atol=1e-5)

    # -- lifecycle
    def test_context_manager_closes(self, model_path: Path) -> None:
        with self.open(model_path) as backend:
            assert backend.run(self.batch(backend.spec, 1)).shape[0] == 1
        assert backend.closed
        self.after_close(backend)

    def test_close_twice_releases_once(self, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: List[int] = []
        release = type(backend)._release

        def counted(self: Any) -> None:
            calls.append(1)
            release(self)

        monkeypatch.setattr(type(backend), "_release", counted)
        backend.close()
        backend.close()
        assert calls == [1] and backend.closed
        self.after_close(backend)

    def test_run_after_close_is_one_clear_error(self, backend: Backend) -> None:
        x = self.batch(backend.spec, 1)
        backend.close()
        with pytest.raises(EdgeUnetError, match=f"the {self.name} backend was closed"):
            backend.run(x)

    def test_with_after_close_is_one_clear_error(self, backend: Backend) -> None:
        backend.close()
        with pytest.raises(EdgeUnetError, match="closed"):
            with backend:
                pass

    def test_closed_by_an_exception_inside_with(self, model_path: Path) -> None:
        with pytest.raises(RuntimeError):
            with self.open(model_path) as backend:
                raise RuntimeError("boom")
        assert backend.closed
        self.after_close(backend)
