"""PyTorch runner for checkpoints: CPU or CUDA, fp32 or fp16 (CUDA only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.model.checkpoint import build_model, load_checkpoint, require_torch, spec_of
from edgeunet.runtime.base import Backend


class TorchBackend(Backend):
    """`run(batch)` -> the model's output; `threads` sets torch's intra-op threads (process-wide, as torch has it)."""

    name = "torch"

    def __init__(self, path: Path, device: str = "auto", half: bool = False, threads: Optional[int] = None, **_: Any) -> None:
        torch = require_torch()
        if threads:
            torch.set_num_threads(int(threads))
        self._torch = torch
        payload = load_checkpoint(path)
        self.spec = spec_of(payload, str(path))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EdgeUnetError(f"--device {device}: PyTorch sees no CUDA GPU here; use --device cpu")
        if half and not device.startswith("cuda"):
            raise EdgeUnetError("fp16 with the torch backend needs CUDA; use fp32 on the CPU or an fp16 ONNX with onnxruntime")
        self.device = device
        self.precision = "fp16" if half else "fp32"
        model = build_model(payload).to(device)
        self.model = model.half() if half else model
        self._dtype = torch.float16 if half else torch.float32

    def _run(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, dtype=self._dtype, non_blocking=True)
            return self.model(x).float().cpu().numpy()

    def _release(self) -> None:
        self.model = None
