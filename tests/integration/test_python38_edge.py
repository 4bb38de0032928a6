"""JetPack 5 ships Python 3.8: the edge path (ONNX model -> infer/evaluate) must run there without torch.

Slow (the first run creates .venv38 and installs numpy, OpenCV, ONNX Runtime for 3.8 from PyPI), so it runs
in `make test-all`; it skips where no Python 3.8 interpreter exists.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow

EDGE_REQUIREMENTS = ["numpy", "opencv-python-headless", "onnxruntime", "onnx", "click", "rich", "tqdm", "pyyaml"]


def _python38() -> str | None:
    candidates = [shutil.which("python3.8") or "", *glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8"))]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="session")
def venv38() -> Path:
    interpreter = _python38()
    if interpreter is None:
        pytest.skip("no Python 3.8 interpreter on this machine")
    venv = REPO / ".venv38"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([interpreter, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EDGE_REQUIREMENTS], check=True, timeout=900)
        (venv / ".installed").write_text("ok")
    return python


def test_edge_path_runs_on_python38_without_torch(venv38: Path, tiny_run: Path, synth_data: Path, tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    assert run_cli("export", tiny_run / "best.pt", "--out", onnx).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    probe = subprocess.run([str(venv38), "-c", "import sys, importlib.util; print(sys.version_info[:2], importlib.util.find_spec('torch'))"],
                           capture_output=True, text=True, env=env)
    assert probe.stdout.strip() == "(3, 8) None", probe.stdout + probe.stderr
    images = sorted((synth_data / "images").glob("*.png"))[:2]
    infer = subprocess.run([str(venv38), "-m", "edgeunet", "infer", str(onnx), *map(str, images), "--out", str(tmp_path / "pred")],
                           capture_output=True, text=True, env=env, timeout=300)
    assert infer.returncode == 0, infer.stderr
    assert len(list((tmp_path / "pred" / "masks").glob("*.png"))) == 2
    evaluate = subprocess.run([str(venv38), "-m", "edgeunet", "evaluate", str(onnx), "--data", str(synth_data)],
                              capture_output=True, text=True, env=env, timeout=300)
    assert evaluate.returncode == 0 and "mIoU" in evaluate.stdout, evaluate.stderr


def test_doctor_and_deepstream_export_run_on_python38_without_torch(venv38: Path, tiny_run: Path, tmp_path: Path) -> None:
    """JetPack 5's Python: `doctor` reports torch absent (and still works), `export-deepstream` needs no torch."""
    onnx = tmp_path / "model.onnx"
    assert run_cli("export", tiny_run / "best.pt", "--out", onnx).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    doctor = subprocess.run([str(venv38), "-m", "edgeunet", "doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert doctor.returncode == 0, doctor.stderr
    torch_line = next(line for line in doctor.stdout.splitlines() if " torch " in line)
    assert "[missing]" in torch_line and "3.8" in doctor.stdout
    ds = subprocess.run([str(venv38), "-m", "edgeunet", "export-deepstream", str(onnx), "--out", str(tmp_path / "ds")],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ds.returncode == 0, ds.stderr
    assert (tmp_path / "ds" / "config_infer_primary_edgeunet.txt").is_file()
