"""edgeunet.trt.selftest (`doctor --selftest`) under the emulator: defaults, timings in milliseconds, the engine size."""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest

from tests.trtsim import models as M
from tests.trtsim import state
from tests.trtsim.test_edgeunet_trt import write_onnx


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_selftest_defaults_and_figures(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.trt import runner, selftest

    sources: List[str] = []

    class Spy(runner.EngineRunner):
        def __init__(self, plan_bytes: bytes, source: str = "engine", **kwargs: Any) -> None:
            sources.append(source)
            super().__init__(plan_bytes, source, **kwargs)

    monkeypatch.setattr(runner, "EngineRunner", Spy)
    x = np.zeros((1, 1, 8, 8), np.float32)
    start = time.perf_counter()
    result = selftest.build_and_run(write_onnx(tmp_path, M.conv_relu(batch=1)), {"input": x})
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    assert sources == ["selftest engine"]
    assert len(result.latencies_ms) == 50 and state().executions == 1 + 5 + 50  # one checked run, 5 warm-up, 50 timed
    assert 1e-3 < min(result.latencies_ms) and sum(result.latencies_ms) < elapsed_ms  # milliseconds of each timed run
    assert 0.0 < result.build_seconds < elapsed_ms / 1000.0 and result.engine_bytes > 100 and isinstance(result.engine_bytes, int)


def test_pycuda_without_a_version_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.trt import pycuda_version

    monkeypatch.setitem(sys.modules, "pycuda", types.ModuleType("pycuda"))
    assert pycuda_version() == "unknown version"
