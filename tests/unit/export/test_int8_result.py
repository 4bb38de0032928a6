"""export/int8_result.py: one metadata stamp, one manifest format and one write of each, whichever engine quantized."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeunet.export.int8_result as int8_result
from edgeunet.core.atomic import sha256_file
from edgeunet.core.onnx_model import KEY_CALIBRATION, KEY_FLOAT_LAYERS, KEY_GATE, KEY_PRECISION, KEY_SOURCE_SHA, KEY_SPEC, KEY_TARGET, load_onnx, read_metadata
from edgeunet.core.spec import ModelSpec
from edgeunet.export.int8_options import Int8Job, Int8Options
from edgeunet.export.quantize import Quantized


def _qdq_model() -> Any:
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "z")
    nodes = [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["output"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 2, 2])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 2, 2])], [scale, zero])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _job(tmp_path: Path, **settings: Any) -> Int8Job:
    source = tmp_path / "m.onnx"
    onnx.save(_qdq_model(), str(source))
    images = []
    for i in range(2):
        images.append(tmp_path / f"{i}.png")
        images[-1].write_bytes(bytes([i]) * 10)
    options = Int8Options(manifest_dir=tmp_path / "cal", **settings)
    return Int8Job(source, tmp_path, tmp_path / "m.int8.onnx", options, None, {KEY_SPEC: json.dumps(ModelSpec().to_dict())}, ModelSpec(),
                   sha256_file(source), images, {"ok": True, "findings": []})


def test_stamp_gives_the_graph_our_metadata_before_the_gate(tmp_path: Path) -> None:
    job = _job(tmp_path, method="minmax", seed=3)
    quantized = Quantized(_qdq_model(), calibration_fields={"engine": "modelopt 0.47.0"}, producer="edgeunet (ModelOpt)")
    metadata = read_metadata(int8_result.stamp(job, quantized))
    assert metadata[KEY_SPEC] == job.metadata[KEY_SPEC] and metadata[KEY_PRECISION] == "int8" and metadata[KEY_TARGET] == "tensorrt"
    assert metadata[KEY_SOURCE_SHA] == job.source_sha
    assert json.loads(metadata[KEY_CALIBRATION]) == {"engine": "modelopt 0.47.0", "method": "minmax", "num_images": 2, "seed": 3}
    assert quantized.model.producer_name == "edgeunet (ModelOpt)"


def test_manifest_fields_and_name_per_engine(tmp_path: Path) -> None:
    job = _job(tmp_path, method="percentile", percentile=99.9)
    ours = int8_result.manifest_fields(job, Quantized(None, ["/up/ConvTranspose"], manifest_fields={"float_nodes": ["/up/ConvTranspose"]}))
    assert list(ours) == ["method", "percentile", "seed", "target", "float_nodes", "calibration_check"] and ours["percentile"] == 99.9
    theirs = int8_result.manifest_fields(_job(tmp_path), Quantized(None, manifest_fields={"engine": "modelopt", "modelopt_version": "0.47.0"}))
    assert list(theirs)[:3] == ["engine", "modelopt_version", "method"] and "percentile" not in theirs
    out = tmp_path / "m.int8.onnx"
    path, manifest, text = int8_result.calibration_manifest(job.onnx_path, "f" * 64, tmp_path, job.images, out, tmp_path, **theirs)
    assert path.name == f"m.int8.{'f' * 12}.modelopt-entropy-seed0.json" and json.loads(text) == manifest
    assert manifest["num_images"] == 2 and manifest["images"][1]["sha256"] == sha256_file(job.images[1])
    assert int8_result.calibration_manifest(job.onnx_path, "f" * 64, tmp_path, job.images, out, tmp_path, **ours)[0].name.endswith(
        ".percentile-seed0.json")


def test_write_result_writes_manifest_then_onnx_once_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: List[str] = []
    for name in ("atomic_write_text", "save_onnx"):
        real = getattr(int8_result, name)
        monkeypatch.setattr(int8_result, name, lambda path, data, *a, _real=real, _name=name, **k: (writes.append(_name), _real(path, data, *a, **k))[1])
    job = _job(tmp_path)
    quantized = Quantized(_qdq_model(), manifest_fields={"float_nodes": []})
    model = int8_result.stamp(job, quantized)
    gate = type("Gate", (), {"to_dict": lambda self: {"passed": True}})()
    result = int8_result.write_result(job, quantized, model, ["/c/Conv"], {"float_layers": ["/c/Conv"], "fallback": {"mode": "off"}},
                                      gate)  # type: ignore[arg-type]
    assert writes == ["atomic_write_text", "save_onnx"]
    metadata = read_metadata(load_onnx(job.out))
    calibration = json.loads(metadata[KEY_CALIBRATION])
    assert calibration["manifest_sha256"] == sha256_file(result.manifest_path) == result.manifest_sha256
    assert calibration["manifest"] == str(result.manifest_path) and json.loads(metadata[KEY_FLOAT_LAYERS]) == ["/c/Conv"]
    assert json.loads(metadata[KEY_GATE]) == {"passed": True}
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["float_layers"] == ["/c/Conv"] and manifest["calibration_check"] == {"ok": True, "findings": []}
    assert result.quantized_nodes == 1 and result.float_layers == ["/c/Conv"] and result.check == job.check
