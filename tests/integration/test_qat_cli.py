"""`edgeunet train --qat --from RUN/best.pt`: one-line refusals, then the whole chain on the tiny run
(fine-tune -> RUN-qat/best.int8.onnx -> gate -> inspect --trt 10.3 -> bench int8 vs int8-modelopt vs int8-qat)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli

torch = pytest.importorskip("torch")


def test_qat_refusals(tmp_path: Path, tiny_run: Path) -> None:
    assert_user_error(run_cli("train", "--qat", "--epochs", "1"), "--qat needs --from")
    assert_user_error(run_cli("train", "--from", tiny_run / "best.pt"), "add --qat")
    assert_user_error(run_cli("train", "--qat", "--from", tmp_path / "missing.pt"), "no such checkpoint file")
    other = tmp_path / "other.pt"
    torch.save({"format": "edgeunet-checkpoint", "model": {"arch": "segformer"}, "state_dict": {}, "spec": {}}, other)
    assert_user_error(run_cli("train", "--qat", "--from", other), "another architecture")
    assert_user_error(run_cli("train", "--qat", "--from", tiny_run / "best.pt", "--width", "16"), "--width is fixed")


@pytest.fixture(scope="module")
def qat_run(tiny_qat_run: Path) -> Path:
    return tiny_qat_run


def test_qat_run_writes_a_tensorrt_int8_onnx(qat_run: Path, tiny_onnx: Path) -> None:
    onnx_path = qat_run / "best.int8.onnx"
    assert onnx_path.is_file() and (qat_run / "source.fp32.onnx").is_file()
    config = json.loads((qat_run / "config.json").read_text())
    assert config["qat_from"] and config["epochs"] == 1
    proc = run_cli("inspect", onnx_path, "--trt", "10.3", "--strict", "--json", qat_run / "inspect.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((qat_run / "inspect.json").read_text())
    assert run_cli("inspect", tiny_onnx, "--json", qat_run / "fp32.json").returncode == 0
    fp32_keys = set(json.loads((qat_run / "fp32.json").read_text())["metadata"])
    assert fp32_keys <= set(report["metadata"])  # classes, size, mean/std, val split...: all of a plain export, and more
    assert report["metadata"]["edgeunet.precision"] == "int8" and "edgeunet.gate" in report["metadata"]
    again = run_cli("export", qat_run / "best.pt", "--out", qat_run / "again.onnx")
    assert again.returncode == 0 and "(int8," in again.stdout, again.stdout + again.stderr


def test_bench_shows_all_int8_variants(qat_run: Path, tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    proc = run_cli("bench", tiny_onnx, "--backends", "onnxruntime", "--precisions", "fp32,int8,int8-modelopt,int8-qat",
                   "--qat", qat_run / "best.int8.onnx", "--data", synth_data, "--iterations", "3", "--warmup", "1",
                   "--calib-images", "4", "--eval-images", "4", "--cache", tmp_path / "cache", "--json", tmp_path / "b.json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["precision"]: r for r in json.loads((tmp_path / "b.json").read_text())["rows"]}
    for precision in ("int8", "int8-modelopt", "int8-qat"):
        assert rows[precision]["status"] == "ok", rows[precision]
        assert rows[precision]["dice"] is not None and rows[precision]["qdq_pairs"] > 0
    assert rows["fp32"]["qdq_pairs"] is None
    assert "Q/DQ" in proc.stdout


def test_bench_int8_qat_needs_its_file(tiny_onnx: Path) -> None:
    assert_user_error(run_cli("bench", tiny_onnx, "--precisions", "int8-qat"), "--qat")


def test_missing_modelopt_is_one_line(tiny_run: Path, tmp_path: Path) -> None:
    """A `modelopt` that cannot be imported (as on a machine without the qat extra): one line naming the install step, exit 3."""
    import os
    import subprocess
    import sys

    shadow = tmp_path / "shadow" / "modelopt"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named modelopt', name='modelopt')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")]), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "edgeunet", "train", "--qat", "--from", str(tiny_run / "best.pt"), "--out",
                           str(tmp_path / "q")], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 3, proc.stderr
    assert_user_error(proc, "pip install 'edgeunet[qat]'")
    assert not (tmp_path / "q").exists()
