"""The Backend protocol and the factory that picks a backend by file type.

A backend runs the graph and nothing else (model-only time): input is the tensor that
`processing.preprocess` makes, output is what the graph returns. Pre/postprocessing live in
`Segmenter`, so every backend is measured and checked on the same footing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import CHECKPOINT, ENGINE, ONNX, model_kind
from edgeunet.core.spec import ModelSpec

try:  # Python 3.8 has typing.Protocol; keep the import local to typing for clarity.
    from typing import Protocol
except ImportError:  # pragma: no cover
    from typing_extensions import Protocol  # type: ignore[assignment]


class Backend(Protocol):
    name: str  # torch | onnxruntime | tensorrt
    precision: str  # fp32 | fp16 | int8
    device: str  # e.g. cpu, cuda:0, CPUExecutionProvider
    spec: ModelSpec

    def run(self, batch: np.ndarray) -> np.ndarray:
        """One inference on a prepared batch; returns the graph's (first) output as numpy."""
        ...

    def close(self) -> None:
        ...


BACKEND_BY_KIND: Dict[str, str] = {CHECKPOINT: "torch", ONNX: "onnxruntime", ENGINE: "tensorrt"}
BACKEND_NAMES = ("auto", "torch", "onnxruntime", "tensorrt")


def backend_for(path: Path, backend: str = "auto") -> str:
    if backend != "auto":
        if backend not in BACKEND_NAMES:
            raise EdgeUnetError(f"--backend {backend}: choose from {', '.join(BACKEND_NAMES)}")
        return backend
    kind = BACKEND_BY_KIND.get(model_kind(path) or "")
    if kind is None:
        raise EdgeUnetError(f"{path}: unknown model type {path.suffix or '(no suffix)'}; expected .pt, .onnx, .engine or .plan")
    return kind


def load_backend(path: Path | str, backend: str = "auto", device: str = "auto", **options: Any) -> Backend:
    """Open a model file with the backend its type implies (or the one asked for)."""
    path = Path(path)
    if not path.exists():
        raise EdgeUnetError(f"{path}: no such model file")
    if path.is_dir():
        raise EdgeUnetError(f"{path}: is a folder; pass a model file (.pt, .onnx, .engine)")
    kind = backend_for(path, backend)
    if kind == "torch":
        from edgeunet.runtime.torch_backend import TorchBackend

        return TorchBackend(path, device=device, **options)
    if kind == "onnxruntime":
        from edgeunet.runtime.ort_backend import OrtBackend

        return OrtBackend(path, device=device, **options)
    if kind == "tensorrt":
        from edgeunet.runtime.trt_backend import TensorRTBackend

        return TensorRTBackend(path, device=device, **options)
    raise EdgeUnetError(f"{path}: the {kind} backend is not available in this version of edgeunet")
