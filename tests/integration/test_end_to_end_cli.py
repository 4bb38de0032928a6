"""`edgeunet export --end-to-end` through the CLI: export, inspect, infer, evaluate, stream, bench, calibrate, Triton, DeepStream."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.conftest import assert_user_error, run_cli


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path, synth_data: Path) -> Path:
    """The tiny run as an end-to-end model for the synthetic video's 256x192 frames, with the overlay output."""
    out = tmp_path_factory.mktemp("e2e") / "tiny.e2e.onnx"
    proc = run_cli("export", tiny_run / "best.pt", "--end-to-end", "--frame-size", "192x256", "--overlay", "--out", out,
                   "--parity-data", synth_data)
    assert proc.returncode == 0, proc.stderr
    assert "end-to-end, uint8 frame 1x192x256x3 BGR -> mask + overlay" in proc.stdout
    assert "mask agreement with the CPU path on 2 frame(s)" in proc.stdout and "100.0000%" in proc.stdout, proc.stdout
    return out


@pytest.fixture(scope="module")
def e2e_64(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    """Wrapped from the .onnx (not the checkpoint), at the synthetic images' own 64x64: evaluate sees the CPU path's pixels."""
    out = tmp_path_factory.mktemp("e2e64") / "tiny.e2e.onnx"
    proc = run_cli("export", tiny_onnx, "--end-to-end", "--frame-size", "64x64", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_graph_io_and_inspect_for_each_tensorrt(e2e: Path, tiny_onnx: Path, tmp_path: Path) -> None:
    session = ort.InferenceSession(str(e2e), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [("frame", "tensor(uint8)", [1, 192, 256, 3])]
    assert [(o.name, o.type, o.shape) for o in session.get_outputs()] == [
        ("mask", "tensor(uint8)", [1, 192, 256]), ("overlay", "tensor(uint8)", [1, 192, 256, 3])]
    for version in ("8.6", "10.3", "11"):
        proc = run_cli("inspect", e2e, "--trt", version, "--strict")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_user_error(run_cli("inspect", e2e, "--trt", "8.5", "--strict"), "TensorRT would reject it")
    assert "--frame-dtype float32" in run_cli("inspect", e2e, "--trt", "8.5").stdout
    for_85 = tmp_path / "tiny.e2e85.onnx"
    proc = run_cli("export", tiny_onnx, "--end-to-end", "--frame-size", "192x256", "--frame-dtype", "float32", "--out", for_85)
    assert proc.returncode == 0, proc.stderr
    for version in ("8.5", "10.3", "11"):
        assert run_cli("inspect", for_85, "--trt", version, "--strict").returncode == 0


def test_evaluate_equals_the_cpu_path(e2e_64: Path, tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    scores = []
    for model in (tiny_onnx, e2e_64):
        report = tmp_path / f"{model.stem}.json"
        proc = run_cli("evaluate", model, "--data", synth_data, "--json", report)
        assert proc.returncode == 0, proc.stderr
        scores.append(json.loads(report.read_text()))
    assert scores[0]["miou"] == pytest.approx(scores[1]["miou"], abs=1e-9)
    assert scores[0]["dice"] == pytest.approx(scores[1]["dice"], abs=1e-9)


def test_infer_resizes_other_sizes_once_with_a_warning(e2e: Path, synth_data: Path, tmp_path: Path) -> None:
    proc = run_cli("infer", e2e, synth_data / "images", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: frames are 64x64")]
    assert len(warnings) == 1 and "--frame-size 64x64" in warnings[0], proc.stderr
    masks = sorted((tmp_path / "out" / "masks").glob("*.png"))
    assert masks and all(cv2.imread(str(m), cv2.IMREAD_UNCHANGED).shape == (64, 64) for m in masks)


def test_stream_and_bench(e2e: Path, synth_video: Path, tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    proc = run_cli("stream", e2e, synth_video, "-o", "null", "--max-frames", "6", "--stats", stats)
    assert proc.returncode == 0, proc.stderr
    assert "warning: frames" not in proc.stderr  # the video's frames have the model's frame size: no CPU resize
    assert stats.is_file()
    proc = run_cli("bench", e2e, "--precisions", "fp32", "--backends", "onnxruntime", "--iterations", "2", "--warmup", "1")
    assert proc.returncode == 0, proc.stderr
    assert "warning: frames" not in proc.stderr and "│ ok" in proc.stdout, proc.stdout


def test_calibrate_puts_qdq_in_the_network_only(e2e: Path, synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.e2e.int8.onnx"
    proc = run_cli("calibrate", e2e, "--data", synth_data / "images", "--num-images", "8", "--out", out, "--max-drop", "1",
                   "--manifest-dir", tmp_path / "calibration")
    assert proc.returncode == 0, proc.stderr
    assert "accuracy gate passed" in proc.stdout, proc.stdout
    model = onnx.load(str(out))
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    wrapper_outputs = {o for n in model.graph.node if n.name.startswith("e2e/") for o in n.output}
    assert qdq and not any(n.name.startswith("e2e/") for n in qdq)
    assert {i for n in qdq for i in n.input} & wrapper_outputs <= {"e2e/network_input"}  # the network's own input only
    assert [i.name for i in model.graph.input] == ["frame"] and [o.name for o in model.graph.output] == ["mask", "overlay"]
    assert run_cli("inspect", out, "--trt", "10.3", "--strict").returncode == 0


def test_triton_config_matches_its_io(e2e: Path, tmp_path: Path) -> None:
    pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="pip install -e '.[dev]' (tritonclient[grpc])")
    from google.protobuf import text_format

    proc = run_cli("export-triton", e2e, "--repo", tmp_path / "repo")
    assert proc.returncode == 0, proc.stderr
    config = pb2.ModelConfig()
    text_format.Parse((tmp_path / "repo" / "tiny.e2e" / "config.pbtxt").read_text(), config)
    assert config.max_batch_size == 0
    assert [(i.name, pb2.DataType.Name(i.data_type), list(i.dims)) for i in config.input] == [("frame", "TYPE_UINT8", [1, 192, 256, 3])]
    assert [(o.name, pb2.DataType.Name(o.data_type), list(o.dims)) for o in config.output] == [
        ("mask", "TYPE_UINT8", [1, 192, 256]), ("overlay", "TYPE_UINT8", [1, 192, 256, 3])]


def test_deepstream_config_matches_the_network_it_ships(e2e: Path, tmp_path: Path) -> None:
    proc = run_cli("export-deepstream", e2e, "--out", tmp_path / "ds")
    assert proc.returncode == 0, proc.stderr
    assert "model.onnx is its network" in proc.stdout + proc.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(tmp_path / "ds" / "config_infer_primary_edgeunet.txt")
    prop = dict(parser["property"])
    session = ort.InferenceSession(str(tmp_path / "ds" / "model.onnx"), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape
    assert prop["infer-dims"] == f"{shape[1]};{shape[2]};{shape[3]}" and session.get_inputs()[0].type == "tensor(float)"


def test_bad_inputs_are_one_line(e2e: Path, tiny_run: Path, synth_data: Path, tmp_path: Path) -> None:
    ckpt = tiny_run / "best.pt"
    assert_user_error(run_cli("export", ckpt, "--frame-size", "64x64"), "is an --end-to-end option")
    assert_user_error(run_cli("export", ckpt, "--end-to-end"), "--end-to-end needs --frame-size")
    assert_user_error(run_cli("export", ckpt, "--end-to-end", "--frame-size", "64x64", "--dynamic"), "--dynamic does not apply")
    assert_user_error(run_cli("export", ckpt, "--end-to-end", "--frame-size", "8x8"), "--frame-size")
    assert_user_error(run_cli("export", e2e, "--end-to-end", "--frame-size", "64x64", "--out", tmp_path / "x.onnx"),
                      "already an end-to-end model")
    assert not (tmp_path / "x.onnx").exists()
    assert_user_error(run_cli("evaluate", e2e, "--data", synth_data, "--tile", "64"), "end-to-end model takes whole frames")


def test_frames_of_another_size_in_the_python_api(e2e: Path) -> None:
    from edgeunet.runtime.segmenter import Segmenter

    seg = Segmenter(e2e, device="cpu")
    frame = np.full((100, 120, 3), 90, np.uint8)
    assert seg.predict(frame).shape == (100, 120)
