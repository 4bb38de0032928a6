"""Shim: like pycuda.autoprimaryctx, importing retains device 0's primary context and pushes it in this thread."""

import atexit
import contextlib

from tests.trtsim import cuda as _cuda

device, context = _cuda.auto_context(primary=True)


def _finish_up() -> None:
    with contextlib.suppress(_cuda.Error):
        context.pop()


atexit.register(_finish_up)
