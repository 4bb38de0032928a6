"""TensorRT runner for .engine/.plan files, through `edgeunet.trt` (the only place tensorrt/pycuda are imported).

Loading order is chosen so that what can be checked without a GPU is checked first: the engine's sidecar and
sha256 (a truncated or replaced engine is one line, on any machine), then TensorRT/pycuda are imported (missing:
one line with the install step, exit 3), then the running TensorRT version and GPU are compared with the
sidecar (a mismatch is refused with the exact rebuild command), and only then is the engine deserialized.
No torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.precisions import file_precision
from edgeunet.core.processing import overlay_image
from edgeunet.core.spec import OVERLAY_OUTPUT
from edgeunet.runtime.base import Backend
from edgeunet.trt.sidecar import check_compatible, check_engine_file, sidecar_path, spec_of_sidecar


class TensorRTBackend(Backend):
    """`run(batch)` -> the engine's first output; pinned buffers, one stream, usable from a worker thread."""

    name = "tensorrt"

    def __init__(self, path: Path, device: str = "auto", **_: Any) -> None:
        path = Path(path)
        if device not in ("auto", "cuda", "cuda:0", "gpu", "tensorrt"):
            raise EdgeUnetError(
                f"--device {device}: a TensorRT engine runs on the GPU it was built for (cuda:0); for the CPU use the .onnx"
            )
        sidecar = check_engine_file(path)
        self.spec = spec_of_sidecar(sidecar, path)
        self.precision = file_precision(str(sidecar.get("precision", "fp32")), f"{sidecar_path(path)}: precision")
        from edgeunet.trt.runner import EngineRunner, runtime_info

        trt_version, gpu_name, capability = runtime_info()
        check_compatible(sidecar, path, trt_version, gpu_name, capability)
        self.device = f"cuda:0 ({gpu_name})"
        build: Dict[str, Any] = sidecar.get("build") or {}
        self.runner = EngineRunner(path.read_bytes(), str(path), dla_core=build.get("dla_core"))
        if len(self.runner.input_names) != 1 or not self.runner.output_names:
            self.close()  # the engine and its buffers are already on the GPU
            raise EdgeUnetError(f"{path}: expected one input and at least one output; rebuild with `{sidecar['build_command']}`")
        self._input = self.runner.input_names[0]
        self.input_shape: List[Any] = list(self.runner.input_shapes.get(self._input, ()))
        self._output = self.runner.output_names[0]
        has_overlay = self.spec.end_to_end and self.spec.overlay_alpha is not None and OVERLAY_OUTPUT in self.runner.output_names
        self._overlay = OVERLAY_OUTPUT if has_overlay else None

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self.runner.infer({self._input: batch})[self._output]

    def _run_with_overlay(self, batch: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        outputs = self.runner.infer({self._input: batch})
        return outputs[self._output], (overlay_image(outputs[self._overlay]) if self._overlay is not None else None)

    @property
    def phase_ms(self) -> Dict[str, float]:
        """H2D / compute / D2H of the last run (bench's trtexec-style columns)."""
        return dict(self.runner.phase_ms) if self.runner is not None else {}

    def _release(self) -> None:
        runner, self.runner = getattr(self, "runner", None), None  # type: ignore[assignment]
        if runner is not None:
            runner.close()
