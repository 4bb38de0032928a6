"""pytest fixtures for the emulator (imported by tests/trtsim/conftest.py).

`trt`: the emulated tensorrt module, installed for the test and removed afterwards; the version is the
indirect parameter (`@pytest.mark.parametrize("trt", ["8.6", "10.3", "11"], indirect=True)`) or, without one,
EDGEUNET_TRTSIM_VERSION (default 10.3).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.trtsim.install import installed
from tests.trtsim.state import STATE

# Modules that bind tensorrt names at import time (subclasses of the calibrator trampolines): re-imported per install.
PURGE = ("edgeunet.trt.calibrator",)


@pytest.fixture
def trt(request: pytest.FixtureRequest) -> Iterator[Any]:
    version = getattr(request, "param", None) or STATE.version
    with installed(version, purge=PURGE) as module:
        yield module
