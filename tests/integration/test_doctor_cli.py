"""`edgeunet doctor [--selftest]` as a user runs it: a clear report here (no GPU, no TensorRT), the selftest's exit.

The TensorRT selftest itself runs only where TensorRT, pycuda and a GPU exist (marker tensorrt): never faked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeunet.trt import pycuda_version, tensorrt_version
from tests.conftest import assert_user_error, run_cli

L4T_DATA = Path(__file__).resolve().parents[1] / "data" / "l4t"
HAS_TRT = tensorrt_version() is not None and pycuda_version() is not None


def test_doctor_reports_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEUNET_L4T_RELEASE", str(L4T_DATA / "jetpack6_r36.3.0"))
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stderr
    for name in ("Python", "OS", "L4T/JetPack", "GPU", "CUDA", "TensorRT", "pycuda", "ONNX Runtime", "OpenCV", "torch"):
        assert any(name in line and line.lstrip().startswith("[") for line in proc.stdout.splitlines()), (name, proc.stdout)
    assert "JetPack 6.0" in proc.stdout
    assert "GStreamer" in proc.stdout and "FFMPEG" in proc.stdout and "V4L2" in proc.stdout
    assert "TensorRT path:" in proc.stdout


@pytest.mark.skipif(HAS_TRT, reason="TensorRT and pycuda are installed here")
def test_doctor_says_plainly_that_tensorrt_and_gpu_are_missing() -> None:
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    trt = next(line for line in lines if "TensorRT " in line and line.lstrip().startswith("["))
    assert "[missing]" in trt
    assert any("python3-libnvinfer" in line for line in lines)  # the install hint is printed
    assert "TensorRT path: not available here" in proc.stdout and "TensorRT" in lines[-1]


@pytest.mark.skipif(HAS_TRT, reason="TensorRT and pycuda are installed here: the selftest really runs")
def test_selftest_without_tensorrt_exits_nonzero_with_the_reason() -> None:
    proc = run_cli("doctor", "--selftest")
    assert_user_error(proc, "selftest FAIL")
    assert proc.returncode == 3
    assert "TensorRT not found" in proc.stderr or "pycuda not found" in proc.stderr
    assert "ONNX Runtime" in proc.stdout and "CPU reference computed" in proc.stdout  # the part that can run did


@pytest.mark.gpu
@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_TRT, reason="needs TensorRT, pycuda and an NVIDIA GPU")
def test_selftest_passes_on_a_gpu_with_tensorrt() -> None:
    proc = run_cli("doctor", "--selftest")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("selftest: PASS"))
    assert "max|Δ|" in line and "p50" in line


BLOCK_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch import attempted by the doctor")
sys.meta_path.insert(0, Block())
from edgeunet.cli import main
main(["doctor"])
"""


def test_doctor_never_imports_torch(tmp_path: Path) -> None:
    """The edge path has no torch: importing it must never be needed (it is only looked up)."""
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert "torch" in proc.stdout and "Traceback" not in proc.stderr
