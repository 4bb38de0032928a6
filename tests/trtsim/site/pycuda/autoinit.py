"""Shim: like pycuda.autoinit, importing creates a context on device 0, current only in the importing thread."""

import atexit
import contextlib

from tests.trtsim import cuda as _cuda

device, context = _cuda.auto_context(primary=False)


def _finish_up() -> None:
    with contextlib.suppress(_cuda.Error):
        context.pop()


atexit.register(_finish_up)
