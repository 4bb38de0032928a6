"""Shim: trtsim's emulated pycuda (driver, autoprimaryctx, autoinit); importing it initialises nothing."""

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[4])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.trtsim.cuda import VERSION, VERSION_TEXT  # noqa: E402

VERSION_STATUS = ""
__all__ = ["VERSION", "VERSION_STATUS", "VERSION_TEXT"]
