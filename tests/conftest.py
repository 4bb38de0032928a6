"""Shared fixtures: real data from ../shared/data, small synthetic data made on the fly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EDGEUNET_SHARED_DATA", REPO.parent / "shared" / "data"))
ISBI = SHARED_DATA / "isbi2012-membrane"
VTEST = SHARED_DATA / "video" / "vtest.avi"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m edgeunet ARGS` as a user would; returns the finished process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "edgeunet", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def assert_user_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    """One line on stderr that names the problem, a non-zero exit, no traceback.

    Warning lines ("warning: ...", e.g. the calibration-set check) may come before it: they are not the error.
    """
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("warning: ")]
    assert len(lines) == 1, proc.stderr
    assert fragment.lower() in lines[0].lower(), lines[0]


@pytest.fixture(scope="session")
def isbi() -> Path:
    if not (ISBI / "train" / "images").is_dir():
        pytest.skip(f"ISBI data not found at {ISBI} (set EDGEUNET_SHARED_DATA)")
    return ISBI / "train"


@pytest.fixture(scope="session")
def vtest() -> Path:
    if not VTEST.is_file():
        pytest.skip(f"vtest.avi not found at {VTEST} (set EDGEUNET_SHARED_DATA)")
    return VTEST


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgeunet.data.synth import make_dataset

    return make_dataset(tmp_path_factory.mktemp("synth") / "cells", count=16, size=64, seed=0)


def _shared_artifact(name: str) -> Path | None:
    """Where a session fixture may keep its product across pytest sessions: only when EDGEUNET_TEST_ARTIFACTS is set.

    Why: `make mutation` starts one pytest session per mutant of the TensorRT layer, and a test that needs the tiny
    ONNX would train and export it again each time (seconds per mutant, hours per run); that model does not depend on
    the mutated code, so one copy serves every mutant. Ordinary test runs never set it.
    """
    root = os.environ.get("EDGEUNET_TEST_ARTIFACTS")
    return Path(root) / name if root else None


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, synth_data: Path) -> Path:
    """A finished 2-epoch width-8 run on synthetic data (seconds on a CPU)."""
    shared = _shared_artifact("tiny-run")
    if shared is not None and (shared / "best.pt").is_file():
        return shared
    out = shared or tmp_path_factory.mktemp("runs") / "tiny"
    proc = run_cli("train", "--data", synth_data, "--out", out, "--epochs", "2", "--width", "8", "--size", "64",
                   "--batch-size", "4", "--snapshot-samples", "2")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path, synth_data: Path) -> Path:
    """The tiny run exported to a 64x64 fp32 ONNX (what `edgeunet stream` and bench tests run)."""
    shared = _shared_artifact("tiny.onnx")
    if shared is not None and shared.is_file():
        return shared
    out = shared or tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    proc = run_cli("export", tiny_run / "best.pt", "--out", out, "--parity-data", synth_data)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def synth_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-frame 256x192 MJPG .avi at 30 FPS (the demo's stand-in for a camera)."""
    from edgeunet.data.synth import make_video

    return make_video(tmp_path_factory.mktemp("video") / "cells30.avi", frames=60, fps=30.0)


@pytest.fixture(scope="session")
def tiny_qat_run(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> Path:
    """`train --qat` of the tiny run for one epoch (RUN/best.int8.onnx, gated); skips without NVIDIA ModelOpt."""
    try:
        import modelopt.onnx.quantization  # noqa: F401
        import modelopt.torch.quantization  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"NVIDIA ModelOpt not installed ({exc}): pip install 'edgeunet[train,qat]'")
    out = tmp_path_factory.mktemp("qat") / "tiny-qat"
    proc = run_cli("train", "--qat", "--from", tiny_run / "best.pt", "--epochs", "1", "--out", out, "--max-drop", "1")
    assert proc.returncode == 0, proc.stderr
    assert "accuracy gate passed" in proc.stdout and "mask agreement" in proc.stdout, proc.stdout
    return out


def pytest_configure(config: pytest.Config) -> None:
    """A test run started in the background (`make test &`) inherits an ignored SIGINT from the shell, and so would
    every CLI the tests start: the Ctrl-C tests would then wait for a signal that never arrives. Take SIGINT back."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
