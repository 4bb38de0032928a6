"""The Backend base class (interface and lifecycle), the options every backend is opened with, and the factory.

A backend runs the graph and nothing else (model-only time): input is the tensor that
`processing.preprocess` makes, output is what the graph returns. Pre/postprocessing live in
`Segmenter`, so every backend is measured and checked on the same footing.

Lifecycle (Polygraphy's runners are the model): a backend is open from construction to `close()`, and is a
context manager. Its resources (a session, a model on a GPU, an engine and its CUDA buffers) are released exactly
once: a second `close()` does nothing, and `run()` after `close()` is one clear error instead of a crash inside
ONNX Runtime or a use-after-free on the GPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import model_kind
from edgeunet.core.spec import ModelSpec
from edgeunet.runtime.registry import backend_for_kind, file_types, get_backend

B = TypeVar("B", bound="Backend")


class Backend:
    """What every backend is: `run(batch)` -> numpy, `close()` once, usable as `with load_backend(path) as backend:`.

    A subclass sets name/precision/device/spec in its constructor and implements `_run` and `_release`.
    """

    name: str = "backend"  # the registry name: torch | onnxruntime | tensorrt
    precision: str = "fp32"  # a file precision of core.precisions
    device: str = "cpu"  # e.g. cpu, cuda:0, CPUExecutionProvider
    spec: ModelSpec
    _closed: bool = False

    def run(self, batch: np.ndarray) -> np.ndarray:
        """One inference on a prepared batch; returns the graph's (first) output as numpy."""
        self._check_open()
        return self._run(batch)

    def run_with_overlay(self, batch: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """One inference: the first output, and the blended frame (HxWx3 uint8) of an end-to-end model exported with
        --overlay, else None. Why: that model draws the overlay on the GPU, so the CPU must not draw it again."""
        self._check_open()
        return self._run_with_overlay(batch)

    def _check_open(self) -> None:
        if self._closed:
            raise EdgeUnetError(f"the {self.name} backend was closed; open the model again to run it")

    def _run_with_overlay(self, batch: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        return self._run(batch), None  # a graph without an overlay output

    def close(self) -> None:
        """Release the backend's resources; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self: B) -> B:
        if self._closed:
            raise EdgeUnetError(f"the {self.name} backend was closed; open the model again to use it")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class BackendOptions:
    """How a model file is opened, whichever backend opens it: the one place options become `load_backend` arguments.

    Each backend reads the fields it has a use for and ignores the rest (ONNX Runtime: threads, opt_level,
    spinning; torch: threads, half; TensorRT: none), so the CLI, stream and bench hand every backend the same object.
    """

    device: str = "auto"
    threads: Optional[int] = None  # intra-op threads (ONNX Runtime, torch); None: the library's default
    opt_level: str = "all"  # ONNX Runtime graph optimisation level
    spinning: bool = True  # ONNX Runtime threads spin-wait (off when other stages share the cores: stream)
    half: bool = False  # run a checkpoint in fp16 (torch on CUDA)

    @classmethod
    def of(cls, **options: Any) -> "BackendOptions":
        """From keyword arguments; a name no backend knows is one line listing the known ones (never ignored)."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise EdgeUnetError(f"unknown backend option {', '.join(unknown)}; known: {', '.join(known)}")
        return cls(**options)

    def kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of a backend class: the device, and every option that differs from its default."""
        defaults = BackendOptions()
        extra = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                 if f.name != "device" and getattr(self, f.name) != getattr(defaults, f.name)}
        return {"device": self.device, **extra}


def backend_for(path: Path, backend: str = "auto") -> str:
    """The backend that opens `path`: the one asked for (checked against the registry), or its file type's."""
    if backend != "auto":
        return get_backend(backend).name
    entry = backend_for_kind(model_kind(path))
    if entry is None:
        raise EdgeUnetError(f"{path}: unknown model type {path.suffix or '(no suffix)'}; expected {file_types()}")
    return entry.name


def load_backend(path: Path | str, backend: str = "auto", device: str = "auto", **options: Any) -> Backend:
    """Open a model file with the backend its type implies (or the one asked for); `options`: BackendOptions fields."""
    opened = BackendOptions.of(device=device, **options)
    path = Path(path)
    if not path.exists():
        raise EdgeUnetError(f"{path}: no such model file")
    if path.is_dir():
        raise EdgeUnetError(f"{path}: is a folder; pass a model file ({file_types()})")
    cls: Callable[..., Backend] = get_backend(backend_for(path, backend)).load()
    return cls(path, **opened.kwargs())
