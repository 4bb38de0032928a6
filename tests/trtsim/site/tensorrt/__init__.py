"""Shim: `import tensorrt` loads trtsim's emulated module for the selected version (EDGEUNET_TRTSIM_VERSION)."""

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[4])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.trtsim.tensorrt_api import build_tensorrt  # noqa: E402

sys.modules[__name__] = build_tensorrt()
