"""ONNX Runtime runner for .onnx files: fp32, fp16 or INT8 Q/DQ, on TensorRT / CUDA / CPU providers.

The spec and precision come from the file's metadata (read through ORT itself, so the edge path
needs no `onnx` import here). No torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.onnx_model import KEY_TARGET, precision_of, spec_from_metadata
from edgeunet.core.processing import overlay_image
from edgeunet.core.spec import OVERLAY_OUTPUT
from edgeunet.runtime.base import Backend

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("the .onnx backend needs onnxruntime: pip install onnxruntime (onnxruntime-gpu for CUDA)") from None
    return onnxruntime


def choose_providers(device: str, available: List[str]) -> List[Any]:
    """Execution providers for `device`, best first, always ending with the CPU.

    auto: TensorRT, then CUDA, when this onnxruntime build has them; cpu: CPU only;
    cuda[:N] / tensorrt[:N]: that provider on GPU N, or a one-line error when it is missing.
    """
    device = device.lower()
    if device in ("auto", ""):
        return [p for p in GPU_PROVIDERS if p in available] + ["CPUExecutionProvider"]
    if device == "cpu":
        return ["CPUExecutionProvider"]
    kind, _, index = device.partition(":")
    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider", "trt": "TensorrtExecutionProvider"}.get(kind)
    if wanted is None or (index and not index.isdigit()):
        raise EdgeUnetError(f"--device {device}: choose auto, cpu, cuda[:N] or tensorrt[:N] for an .onnx model")
    if wanted not in available:
        raise EdgeUnetError(
            f"--device {device}: this onnxruntime has no {wanted} (has {', '.join(available)}); "
            "install onnxruntime-gpu or use --device cpu"
        )
    options = {"device_id": int(index or 0)}
    chain: List[Any] = [(wanted, options)]
    if wanted == "TensorrtExecutionProvider" and "CUDAExecutionProvider" in available:
        chain.append(("CUDAExecutionProvider", options))
    return [*chain, "CPUExecutionProvider"]


OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def session_options(ort: Any, threads: Optional[int], opt_level: str = "all", spinning: bool = True) -> Any:
    """The CPU knobs that move latency: intra-op threads, graph optimisation level, thread spin-waiting.

    "all" (the default) includes the layout transforms (NCHWc for fp32 Conv, NHWC for QLinearConv) that make
    ONNX Runtime fast on x86 and ARM; lower levels exist to measure what they bring. Spin-waiting buys latency
    on an idle machine and costs it when other threads (capture, overlay) share the cores: `stream` turns it off.
    The memory arena stays on: it is what keeps per-frame allocations off the hot path.
    """
    if threads is not None and threads < 0:
        raise EdgeUnetError(f"--threads {threads}: must be 0 (ONNX Runtime's default) or more")
    if opt_level not in OPT_LEVELS:
        raise EdgeUnetError(f"--ort-opt-level {opt_level}: choose from {', '.join(OPT_LEVELS)}")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[opt_level])
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


class OrtBackend(Backend):
    """`run(batch)` -> the graph's first output. `threads` sets intra-op threads (None: ORT's default)."""

    name = "onnxruntime"

    def __init__(self, path: Path, device: str = "auto", threads: Optional[int] = None, opt_level: str = "all",
                 spinning: bool = True, **_: Any) -> None:
        ort = _ort()
        path = Path(path)
        options = session_options(ort, threads, opt_level, spinning)
        options.log_severity_level = 3  # errors only: provider fallbacks are reported through `device`
        providers = choose_providers(device, list(ort.get_available_providers()))
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - InvalidProtobuf, InvalidArgument, Fail, NoSuchFile...: all "not a usable ONNX"
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            reason = "not a readable ONNX model" if "protobuf" in first.lower() or "graph" in first.lower() else "cannot be loaded"
            detail = first.split(":")[-1].strip()[:120]
            raise EdgeUnetError(f"{path}: {reason} by ONNX Runtime ({detail}); pass a file written by `edgeunet export`") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.spec = spec_from_metadata(dict(meta), str(path))
        self.precision = precision_of(dict(meta), str(path))
        self.target = meta.get(KEY_TARGET, "any")
        self.device = self.session.get_providers()[0]
        self.threads = threads
        self.opt_level = opt_level
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_type = inp.type
        self.input_shape: List[Any] = list(inp.shape)  # ints where fixed, names/None where dynamic
        self._check_input(path, inp.shape, inp.type)
        self.output_name = self.session.get_outputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        self.overlay_name = OVERLAY_OUTPUT if self.spec.end_to_end and self.spec.overlay_alpha is not None and OVERLAY_OUTPUT in names else None

    def _check_input(self, path: Path, shape: List[Any], type_name: str) -> None:
        """The graph's input must be what preprocess makes for this spec (catches hand-edited metadata)."""
        spec = self.spec
        uint8_in = spec.io == "uint8" or (spec.end_to_end and spec.frame_dtype == "uint8")
        want_type = "tensor(uint8)" if uint8_in else "tensor(float)"
        if type_name != want_type:
            raise EdgeUnetError(
                f"{path}: graph input is {type_name} but its metadata says io={spec.io} ({want_type}); re-export the model"
            )
        if len(shape) != 4:
            raise EdgeUnetError(f"{path}: graph input has {len(shape)} dimensions, expected 4; re-export the model")
        channels = shape[3] if spec.io != "float" else shape[1]
        if isinstance(channels, int) and channels != (3 if spec.end_to_end else spec.in_channels):
            raise EdgeUnetError(
                f"{path}: graph takes {channels}-channel input but its metadata says {spec.in_channels}; re-export the model"
            )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self.spec.io == "float" and batch.dtype != np.float32:
            batch = batch.astype(np.float32)
        return np.asarray(self.session.run([self.output_name], {self.input_name: batch})[0])

    def _run_with_overlay(self, batch: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        if self.overlay_name is None:
            return self._run(batch), None
        mask, view = self.session.run([self.output_name, self.overlay_name], {self.input_name: batch})
        return np.asarray(mask), overlay_image(view)

    def describe(self) -> str:
        return json.dumps({"providers": self.session.get_providers(), "precision": self.precision, "target": self.target})

    def _release(self) -> None:
        self.session = None
