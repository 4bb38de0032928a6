"""trtsim: a TensorRT + pycuda emulator for edgeunet's tests (never shipped, never imported by edgeunet).

Install it in-process with `installed(version)` (a context manager; the `trtsim` fixtures in fixtures.py wrap it),
or in a subprocess with `subprocess_env(version)` (PYTHONPATH gets tests/trtsim/site, EDGEUNET_TRTSIM_VERSION the
version). Read what happened with `state()`; `assert_clean()` fails on leaked contexts or device memory.
"""

from tests.trtsim.cuda import live_allocations
from tests.trtsim.install import SITE, assert_clean, installed, subprocess_env
from tests.trtsim.state import configure_gpu, current_version, reset, select_version, state

__all__ = [
    "SITE", "assert_clean", "configure_gpu", "current_version", "installed", "live_allocations", "reset", "select_version", "state", "subprocess_env",
]
