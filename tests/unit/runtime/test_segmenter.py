"""runtime.segmenter: the upsample choice reaches postprocess (evaluate and infer go through Segmenter)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.segmenter import Segmenter


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
