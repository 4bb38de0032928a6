"""Segmenter: the Python API. A frame goes in, a class-id mask of the same size comes out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import numpy as np

from edgeunet.core.processing import check_upsample, postprocess, preprocess
from edgeunet.runtime.base import Backend, load_backend


class Segmenter:
    """`Segmenter("best.pt").predict(frame)`; the model file decides the backend.

    >>> seg = Segmenter("runs/demo/best.pt")          # doctest: +SKIP
    >>> mask = seg.predict(cv2.imread("cells.png"))   # uint8 HxW class ids  # doctest: +SKIP
    >>> with Segmenter("model.onnx") as seg:          # closes the backend at the end  # doctest: +SKIP
    ...     mask = seg.predict(frame)

    Closing a Segmenter closes its backend (also one it was given), exactly once.
    """

    def __init__(self, model: Union[str, Path, Backend], backend: str = "auto", device: str = "auto", upsample: str = "fast",
                 **options: Any) -> None:
        self.upsample = check_upsample(upsample)  # "logits": the reference path (every logit plane resized)
        self.backend: Backend = load_backend(model, backend, device, **options) if isinstance(model, (str, Path)) else model
        self.spec = self.backend.spec

    def predict(self, frame: np.ndarray) -> np.ndarray:
        output = self.backend.run(preprocess(frame, self.spec))
        return postprocess(output, self.spec, (frame.shape[0], frame.shape[1]), self.upsample)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Segmenter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
