"""Fixtures of the TensorRT/pycuda emulator tests (see fixtures.py)."""

from tests.trtsim.fixtures import trt  # noqa: F401
