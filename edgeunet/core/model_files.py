"""What a model file is, by its suffix: the one table every stage reads (runtime, bench, build-engine, deploy)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple

CHECKPOINT, ONNX, ENGINE = "checkpoint", "onnx", "engine"

MODEL_KINDS: Dict[str, str] = {
    ".pt": CHECKPOINT,
    ".pth": CHECKPOINT,
    ".onnx": ONNX,
    ".engine": ENGINE,
    ".plan": ENGINE,
}


def suffixes_of(kind: str) -> Tuple[str, ...]:
    return tuple(suffix for suffix, k in MODEL_KINDS.items() if k == kind)


CHECKPOINT_SUFFIXES = suffixes_of(CHECKPOINT)
ENGINE_SUFFIXES = suffixes_of(ENGINE)


def model_kind(path: Path | str) -> Optional[str]:
    """checkpoint, onnx or engine; None for a suffix edgeunet does not know."""
    return MODEL_KINDS.get(Path(path).suffix.lower())
