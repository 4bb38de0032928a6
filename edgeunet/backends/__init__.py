"""Runners that share one interface: torch (.pt), ONNX Runtime (.onnx), TensorRT (.engine)."""

from edgeunet.backends.base import Backend, load_backend

__all__ = ["Backend", "load_backend"]
