"""The backends edgeunet runs a model with: one table, read by `load_backend`, the CLI, bench and doctor.

Why a table: a backend used to be named in five files (the factory's if-chain, bench's lists and labels, the CLI
help), and bench sent any backend it did not know to a TensorRT build. A newcomer's backend is its module in this
package (a `Backend` subclass) plus one `BackendEntry(...)` line in BACKENDS. Entries name their class as
"module:Class", so reading the table imports nothing: torch and tensorrt stay behind the backend that needs them.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import CHECKPOINT, ENGINE, ONNX, suffixes_of


@dataclass(frozen=True)
class BackendEntry:
    """One backend: its name, the model file kind it runs, and where its class lives."""

    name: str  # --backend / --backends value, bench's Row.backend
    short: str  # bench's row label (ORT-int8 b1 64x64)
    opens: str  # model kind (core.model_files) it runs; `auto` picks the first entry of a file's kind
    target: str  # "module:Class", imported when a model is opened with it
    requires: Tuple[str, ...]  # importable modules it needs; doctor reports the missing ones
    help: str  # one phrase for help texts and doctor

    def load(self) -> Any:
        """The backend class (imports its module: the only moment a heavy dependency may be loaded)."""
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)

    def missing(self) -> Tuple[str, ...]:
        """Required modules that are not installed here."""
        return tuple(name for name in self.requires if not installed(name))


def installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing it (torch costs seconds)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False

BACKENDS: Tuple[BackendEntry, ...] = (
    BackendEntry("torch", "torch", CHECKPOINT, "edgeunet.runtime.torch_backend:TorchBackend", ("torch",),
                 "PyTorch on a .pt checkpoint (fp32; fp16 on CUDA)"),
    BackendEntry("onnxruntime", "ORT", ONNX, "edgeunet.runtime.ort_backend:OrtBackend", ("onnxruntime",),
                 "ONNX Runtime on an .onnx file (CPU, CUDA or TensorRT providers)"),
    BackendEntry("tensorrt", "TRT", ENGINE, "edgeunet.runtime.trt_backend:TensorRTBackend", ("tensorrt", "pycuda"),
                 "TensorRT on an .engine/.plan from build-engine"),
)
BACKEND_NAMES: Tuple[str, ...] = tuple(entry.name for entry in BACKENDS)
SHORT = {entry.name: entry.short for entry in BACKENDS}


def get_backend(name: str, option: str = "--backend") -> BackendEntry:
    """The entry called `name`; unknown: one line with the closest known name and all of them."""
    for entry in BACKENDS:
        if entry.name == name:
            return entry
    close = difflib.get_close_matches(name, BACKEND_NAMES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise EdgeUnetError(f"{option} {name}: unknown backend{hint}; known: auto, {', '.join(BACKEND_NAMES)}")


def backend_for_kind(kind: Optional[str]) -> Optional[BackendEntry]:
    """The backend `auto` picks for a model file kind (the first entry that opens it), None for an unknown kind."""
    return next((entry for entry in BACKENDS if entry.opens == kind), None)


def file_types() -> str:
    """'.pt, .pth, .onnx, .engine or .plan': the suffixes some backend opens, for error messages."""
    suffixes = [s for kind in dict.fromkeys(e.opens for e in BACKENDS) for s in suffixes_of(kind)]
    return ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 else "".join(suffixes)


def backends_help(auto: bool = True) -> str:
    """The --backend / --backends help text, from the table."""
    if not auto:
        return ", ".join(BACKEND_NAMES) + "."
    names = ["auto (by file type)", *BACKEND_NAMES]
    return ", ".join(names[:-1]) + " or " + names[-1] + "."



def usable_backends() -> Tuple[bool, str]:
    """(any usable?, 'usable: torch, onnxruntime; not here: tensorrt (needs tensorrt, pycuda)') for doctor."""
    lacking = {entry.name: entry.missing() for entry in BACKENDS}
    usable = [name for name, missing in lacking.items() if not missing]
    absent = [f"{name} (needs {', '.join(missing)})" for name, missing in lacking.items() if missing]
    return bool(usable), f"usable: {', '.join(usable) or 'none'}" + (f"; not here: {'; '.join(absent)}" if absent else "")
