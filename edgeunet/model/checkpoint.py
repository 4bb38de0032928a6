"""Checkpoints: written atomically, read with weights_only=True (a user's file never runs code)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Dict

from edgeunet.core.atomic import atomic_write_bytes
from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.spec import ModelSpec

CHECKPOINT_FORMAT = "edgeunet-checkpoint"


def require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "this step needs PyTorch, which is not installed: pip install 'edgeunet[train]' (or use an .onnx/.engine model)"
        ) from None
    return torch


def save_checkpoint(path: Path | str, payload: Dict[str, Any]) -> None:
    """Serialised in memory, then written by atomic_write_bytes.

    Why not torch.save(path): its C++ writer reports a full disk as a RuntimeError ("unexpected pos"),
    not as an OSError, so it would escape the CLI's one-line OS error handler as a traceback.
    """
    torch = require_torch()
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path | str, map_location: str = "cpu") -> Dict[str, Any]:
    torch = require_torch()
    path = Path(path)
    if not path.is_file():
        raise EdgeUnetError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, pickle and weights-only errors have many types; all mean "not ours"
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100] or type(exc).__name__
        raise EdgeUnetError(f"{path}: not a readable PyTorch checkpoint ({reason}); pass best.pt or last.pt from an edgeunet run") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise EdgeUnetError(f"{path}: a PyTorch file but not an edgeunet checkpoint; pass best.pt or last.pt from an edgeunet run")
    return payload


def spec_of(payload: Dict[str, Any], source: str) -> ModelSpec:
    return ModelSpec.from_dict(payload["spec"], source)


def build_model(payload: Dict[str, Any]) -> Any:
    """The UNet described by a checkpoint, with its weights, in eval mode on the CPU."""
    from edgeunet.model.unet import UNet

    if payload.get("qat"):  # fake-quant ranges need ModelOpt's modules (train/qat.rebuild_qat_model); run its INT8 ONNX instead
        raise EdgeUnetError("a QAT checkpoint runs as its INT8 ONNX: `edgeunet export RUN/best.pt` writes RUN/best.int8.onnx; use that file")
    model = UNet(**payload["model"])
    model.load_state_dict(payload["state_dict"])
    return model.eval()
