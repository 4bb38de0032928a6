"""Putting the emulator in place of `tensorrt` and `pycuda`: in-process (context manager) or for a subprocess (env).

All sys.modules / sys.path handling of the emulator lives here (the repo hook flags it anywhere else in tests/).
Both routes import the same shim files from tests/trtsim/site, so a subprocess and an in-process test see the
same modules.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence

from tests.trtsim import cuda
from tests.trtsim.state import STATE, reset, select_version

SITE = Path(__file__).resolve().parent / "site"
REPO = Path(__file__).resolve().parents[2]
EMULATED = ("tensorrt", "pycuda")


def _ours(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in EMULATED)


def _drop(names: Sequence[str]) -> None:
    for name in list(sys.modules):
        if _ours(name) or name in names:
            del sys.modules[name]


@contextlib.contextmanager
def installed(version: Optional[str] = None, purge: Sequence[str] = (), broken_import: Optional[str] = None) -> Iterator[Any]:
    """`import tensorrt` / `pycuda` give the emulator of `version` inside the block; yields the tensorrt module.

    `purge`: modules that captured tensorrt names at import (e.g. a module subclassing trt.IInt8EntropyCalibrator2),
    dropped on entry and exit so they re-import against the installed version.
    `broken_import`: emulate a half-installed TensorRT whose `import tensorrt` raises OSError with this text
    (a missing libnvinfer.so); the block then yields None.
    """
    previous = STATE.version
    if version is not None:
        select_version(version)
    reset()
    saved: Dict[str, Any] = {n: m for n, m in sys.modules.items() if _ours(n) or n in purge}
    _drop(purge)
    sys.path.insert(0, str(SITE))
    importlib.invalidate_caches()
    try:
        importlib.import_module("pycuda.driver")
        if broken_import is not None:
            STATE.extra["import_error"] = broken_import
            yield None
        else:
            yield importlib.import_module("tensorrt")
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(SITE))
        _drop(purge)
        sys.modules.update(saved)
        STATE.version = previous
        STATE.extra.pop("import_error", None)
        reset()


def subprocess_env(version: Optional[str] = None, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Environment for a subprocess that should import the emulator (tests/trtsim/site first on PYTHONPATH)."""
    env = dict(os.environ if base is None else base)
    parts = [str(SITE), str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env["EDGEUNET_TRTSIM_VERSION"] = version or STATE.version
    return env


def assert_clean() -> None:
    """AssertionError when this thread has contexts pushed beyond pycuda.autoinit/autoprimaryctx, or device memory is live."""
    problems = []
    depth = cuda.context_depth()
    if depth:
        problems.append(f"{depth} CUDA context(s) left pushed in this thread (push without pop)")
    live = cuda.live_allocations()
    if live:
        problems.append(f"{len(live)} device allocation(s) not freed: " + ", ".join(f"{b._address:#x} ({b._nbytes} B)" for b in live[:5]))
    if problems:
        raise AssertionError("trtsim: " + "; ".join(problems))
