"""export-triton and export-deepstream on tiny exports of the session's model (float, uint8, dynamic float).

Triton: config.pbtxt is parsed with Triton's own ModelConfig schema (tritonclient.grpc.model_config_pb2) and its I/O
must equal what ONNX Runtime reports for the ONNX inside the repository, which must run from that path.
DeepStream: the nvinfer config's preprocessing reproduces edgeunet's, and nvinfer's segmentation parser (replayed in
numpy) on the exported model gives edgeunet's own masks.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import assert_user_error, run_cli

pytest.importorskip("torch")
pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="pip install -e '.[dev]' (tritonclient[grpc])")
text_format = pytest.importorskip("google.protobuf.text_format")

ORT_TO_TRITON = {"tensor(float)": "TYPE_FP32", "tensor(uint8)": "TYPE_UINT8", "tensor(float16)": "TYPE_FP16", "tensor(int64)": "TYPE_INT64"}
NP_OF_TRITON = {"TYPE_FP32": np.float32, "TYPE_UINT8": np.uint8, "TYPE_FP16": np.float16}


@pytest.fixture(scope="module")
def models(tiny_run: Path, synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serve")
    for name, extra in (("float", []), ("uint8", ["--io", "uint8"]), ("dynamic", ["--dynamic"])):
        proc = run_cli("export", tiny_run / "best.pt", "--out", out / f"{name}.onnx", "--parity-data", synth_data, *extra)
        assert proc.returncode == 0, proc.stderr
    return out


def _config(path: Path):
    config = pb2.ModelConfig()
    text_format.Parse(path.read_text(), config)  # Triton's own schema: unknown fields or enums fail here
    return config


def _assert_io_matches_onnx(config, onnx_path: Path) -> None:
    """Names, types and dims of config.pbtxt equal ONNX Runtime's view of the ONNX (batch dim per max_batch_size)."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for entries, args in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
        assert [e.name for e in entries] == [a.name for a in args]
        for entry, arg in zip(entries, args):
            assert pb2.DataType.Name(entry.data_type) == ORT_TO_TRITON[arg.type]
            dims = [d if isinstance(d, int) else -1 for d in arg.shape]
            expected = dims[1:] if config.max_batch_size > 0 else dims
            assert list(entry.dims) == expected, (entry.name, list(entry.dims), arg.shape)


def _run_from_repository(config, onnx_path: Path, batch: int, size: int) -> Dict[str, np.ndarray]:
    """Build a request from config.pbtxt alone (as a Triton client would) and run the repository's ONNX with it."""
    entry = config.input[0]
    dims = [size if d == -1 else d for d in entry.dims]
    shape = [batch, *dims] if config.max_batch_size > 0 else dims
    dtype = NP_OF_TRITON[pb2.DataType.Name(entry.data_type)]
    data = (np.random.default_rng(0).random(shape) * 255).astype(dtype)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {entry.name: data})
    return {out.name: value for out, value in zip(config.output, outputs)}


@pytest.mark.parametrize(
    ("model", "extra", "max_batch", "dims_in", "dims_out", "dtypes"),
    [
        ("float", [], 0, [1, 1, 64, 64], [1, 1, 64, 64], ("TYPE_FP32", "TYPE_FP32")),
        ("uint8", [], 0, [1, 64, 64, 1], [1, 64, 64], ("TYPE_UINT8", "TYPE_UINT8")),
        ("dynamic", ["--max-batch", "4", "--dynamic-batching", "--instances", "2"], 4, [1, -1, -1], [1, -1, -1], ("TYPE_FP32", "TYPE_FP32")),
    ],
)
def test_triton_repository_matches_the_onnx(models: Path, tmp_path: Path, model: str, extra: List[str], max_batch: int,
                                            dims_in: List[int], dims_out: List[int], dtypes: tuple) -> None:
    repo = tmp_path / "repo"
    proc = run_cli("export-triton", models / f"{model}.onnx", "--repo", repo, *extra)
    assert proc.returncode == 0, proc.stderr
    config = _config(repo / model / "config.pbtxt")
    onnx_path = repo / model / "1" / "model.onnx"
    assert config.name == model and config.platform == "onnxruntime_onnx" and config.max_batch_size == max_batch
    assert list(config.input[0].dims) == dims_in and list(config.output[0].dims) == dims_out
    assert (pb2.DataType.Name(config.input[0].data_type), pb2.DataType.Name(config.output[0].data_type)) == dtypes
    assert onnx_path.read_bytes() == (models / f"{model}.onnx").read_bytes()
    _assert_io_matches_onnx(config, onnx_path)
    outputs = _run_from_repository(config, onnx_path, batch=3 if max_batch else 1, size=64)
    shape = list(outputs[config.output[0].name].shape)
    assert shape == ([3, *[64 if d == -1 else d for d in dims_out]] if max_batch else dims_out)
    spec = json.loads(config.parameters["edgeunet.spec"].string_value)
    assert spec["io"] == ("uint8" if model == "uint8" else "float") and spec["num_classes"] == 2
    if model == "dynamic":
        assert config.HasField("dynamic_batching") and config.instance_group[0].count == 2
    else:
        assert not config.HasField("dynamic_batching")
    assert sorted(p.name for p in repo.iterdir()) == [model]  # nothing else, no temp folder left


def test_triton_default_batching_for_a_dynamic_export(models: Path, tmp_path: Path) -> None:
    proc = run_cli("export-triton", models / "dynamic.onnx", "--repo", tmp_path / "r", "--name", "cells")
    assert proc.returncode == 0, proc.stderr
    config = _config(tmp_path / "r" / "cells" / "config.pbtxt")
    assert config.max_batch_size == 8 and config.name == "cells"
    _assert_io_matches_onnx(config, tmp_path / "r" / "cells" / "1" / "model.onnx")


def test_triton_bad_inputs(models: Path, tmp_path: Path, tiny_run: Path) -> None:
    taken = tmp_path / "taken"
    (taken / "other").mkdir(parents=True)
    text = tmp_path / "model.onnx"
    text.write_text("not a model")
    foreign = tmp_path / "foreign.onnx"
    _write_foreign_onnx(foreign)
    cases = [
        (("export-triton", tiny_run / "best.pt", "--repo", tmp_path / "a"), "pass an .onnx"),
        (("export-triton", text, "--repo", tmp_path / "b"), "not a readable onnx"),
        (("export-triton", foreign, "--repo", tmp_path / "c"), "without edgeunet metadata"),
        (("export-triton", models / "float.onnx", "--repo", taken), "already exists"),
        (("export-triton", models / "float.onnx", "--repo", tmp_path / "d", "--max-batch", "4"), "fixed batch"),
        (("export-triton", models / "float.onnx", "--repo", tmp_path / "e", "--dynamic-batching"), "--dynamic-batching needs"),
        (("export-triton", models / "dynamic.onnx", "--repo", tmp_path / "f", "--name", "../x"), "--name"),
        (("export-triton", tmp_path / "missing.onnx", "--repo", tmp_path / "g"), "no such onnx file"),
        (("export-triton", tmp_path / "missing.engine", "--repo", tmp_path / "h"), "no such engine"),
    ]
    for args, fragment in cases:
        assert_user_error(run_cli(*args), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.onnx", "model.onnx", "taken"]  # no half-written repository
    assert [p.name for p in taken.iterdir()] == ["other"]


def _plan_with_sidecar(folder: Path, onnx_path: Path, max_batch: int) -> Path:
    """Plan bytes plus the sidecar build-engine writes: export-triton's packaging reads only these (no TensorRT here).

    What it checks is the repository layout and the I/O taken from the sidecar's ONNX; whether a server loads the
    plan is for the tensorrt-marked test below.
    """
    from edgeunet.core.atomic import sha256_file
    from edgeunet.core.onnx_model import read_spec
    from edgeunet.trt.sidecar import write_sidecar

    engine = folder / "dynamic.fp16.engine"
    engine.write_bytes(bytes(range(256)) * 16)
    write_sidecar(engine, {
        "format": "edgeunet-engine-sidecar", "engine_sha256": sha256_file(engine), "tensorrt_version": "10.3.0.30",
        "gpu": {"name": "Orin", "compute_capability": "8.7"}, "precision": "fp16", "spec": read_spec(onnx_path).to_dict(),
        "onnx": {"path": str(onnx_path), "sha256": sha256_file(onnx_path), "precision": "fp32"},
        "shapes": {"min": [1, 1, 64, 64], "opt": [2, 1, 64, 64], "max": [max_batch, 1, 64, 64]},
        "build_command": f"edgeunet build-engine {onnx_path} --fp16 --shapes 1x1x64x64,2x1x64x64,{max_batch}x1x64x64",
    })
    return engine


def test_triton_plan_repository_takes_io_from_the_engines_onnx(models: Path, tmp_path: Path) -> None:
    engine = _plan_with_sidecar(tmp_path, models / "dynamic.onnx", max_batch=4)
    proc = run_cli("export-triton", engine, "--repo", tmp_path / "repo", "--name", "cells")
    assert proc.returncode == 0, proc.stderr
    assert "TensorRT 10.3.0.30" in proc.stdout  # the note: a plan only loads with the TensorRT that built it
    config = _config(tmp_path / "repo" / "cells" / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 4  # capped by the profile's max batch
    assert pb2.ModelInstanceGroup.Kind.Name(config.instance_group[0].kind) == "KIND_GPU"
    assert (tmp_path / "repo" / "cells" / "1" / "model.plan").read_bytes() == engine.read_bytes()
    _assert_io_matches_onnx(config, models / "dynamic.onnx")
    assert_user_error(run_cli("export-triton", engine, "--repo", tmp_path / "r2", "--max-batch", "8"), "profile stops at batch 4")
    moved = tmp_path / "elsewhere.onnx"
    moved.write_bytes((models / "dynamic.onnx").read_bytes() + b"changed")
    sidecar = json.loads(engine.with_name(engine.name + ".json").read_text())
    sidecar["onnx"]["path"] = str(moved)
    engine.with_name(engine.name + ".json").write_text(json.dumps(sidecar))
    assert_user_error(run_cli("export-triton", engine, "--repo", tmp_path / "r3"), "is not here unchanged")
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()


@pytest.mark.gpu
@pytest.mark.tensorrt
def test_triton_plan_from_a_real_engine(models: Path, tmp_path: Path) -> None:
    from edgeunet.trt import pycuda_version, tensorrt_version

    if tensorrt_version() is None or pycuda_version() is None:
        pytest.skip("needs TensorRT, pycuda and an NVIDIA GPU")
    engine = tmp_path / "dynamic.fp32.engine"
    proc = run_cli("build-engine", models / "dynamic.onnx", "--out", engine, "--shapes", "1x1x64x64,2x1x64x64,4x1x64x64")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("export-triton", engine, "--repo", tmp_path / "repo", "--name", "dynamic")
    assert proc.returncode == 0, proc.stderr
    config = _config(tmp_path / "repo" / "dynamic" / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 4


def _write_foreign_onnx(path: Path) -> None:
    """A valid ONNX that edgeunet did not write (no metadata)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])])
    onnx.save(helper.make_model(graph), str(path))


# -- DeepStream -----------------------------------------------------------------------------------
def _property(path: Path) -> Dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return dict(parser["property"])


def _nvinfer_input(pixels: np.ndarray, prop: Dict[str, str]) -> np.ndarray:
    """nvinfer's preprocessing: y = net-scale-factor * (x - offsets[c]), NCHW float."""
    offsets = np.asarray([float(v) for v in prop["offsets"].split(";")], dtype=np.float32)
    chw = pixels.astype(np.float32)[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1).astype(np.float32)
    return (float(prop["net-scale-factor"]) * (chw - offsets[:, None, None]))[None].astype(np.float32)


def test_deepstream_config_reproduces_edgeunet_masks(models: Path, synth_data: Path, tmp_path: Path) -> None:
    import cv2

    from edgeunet.core.processing import postprocess, preprocess
    from edgeunet.deploy.deepstream import nvinfer_class_map
    from edgeunet.runtime.segmenter import Segmenter

    out = tmp_path / "ds"
    proc = run_cli("export-deepstream", models / "float.onnx", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config_infer_primary_edgeunet.txt", "deepstream_app_config.txt", "labels.txt", "model.onnx"]
    prop = _property(out / "config_infer_primary_edgeunet.txt")
    seg = Segmenter(models / "float.onnx")
    spec = seg.spec
    assert prop["network-type"] == "2" and prop["output-blob-names"] == "probabilities"
    assert prop["num-detected-classes"] == "2" and prop["model-color-format"] == "2" and prop["infer-dims"] == "1;64;64"
    assert prop["onnx-file"] == "model.onnx" and prop["network-mode"] == "0" and prop["batch-size"] == "1"
    assert (out / "labels.txt").read_text().split() == spec.class_names
    assert "exactly" in (out / "config_infer_primary_edgeunet.txt").read_text()  # one channel: the config alone is exact
    app = configparser.ConfigParser(interpolation=None)
    app.read(out / "deepstream_app_config.txt")
    assert app["primary-gie"]["config-file"] == "config_infer_primary_edgeunet.txt" and app["segvisual"]["enable"] == "1"

    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    agree = total = 0
    for path in sorted((synth_data / "images").iterdir())[:6]:
        image = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (64, 64), interpolation=cv2.INTER_AREA)
        x = _nvinfer_input(image, prop)
        np.testing.assert_allclose(x, preprocess(image, spec), rtol=1e-5, atol=1e-4)  # same tensor as edgeunet feeds
        probs = session.run(None, {"input": x})[0][0]
        classes = nvinfer_class_map(probs, float(prop["segmentation-threshold"]))
        assert classes.min() >= 0, "every pixel gets a class (no -1)"
        expected = postprocess(seg.backend.run(preprocess(image, spec))[0], spec)
        agree += int((classes == expected).sum())
        total += expected.size
    assert agree / total >= 0.999, agree / total
    # the nvinfer graph is refused by edgeunet's own commands (its output layout differs), never misread
    assert_user_error(run_cli("infer", out / "model.onnx", path, "--out", tmp_path / "pred"), "without edgeunet metadata")


def test_deepstream_multiclass_rgb_unequal_std_is_exact(tmp_path: Path) -> None:
    """3 classes, RGB, per-channel std: softmax head, and the folded channel correction makes nvinfer's input exact."""
    from edgeunet.core.processing import normalize
    from edgeunet.core.spec import ModelSpec
    from edgeunet.deploy.deepstream import nvinfer_class_map

    spec = ModelSpec(in_channels=3, num_classes=3, class_names=["bg", "a", "b"], input_size=[16, 16], channel_order="rgb",
                     mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3])
    source = tmp_path / "rgb.onnx"
    _write_spec_conv(source, spec)
    out = tmp_path / "ds"
    proc = run_cli("export-deepstream", source, "--out", out, "--fp16")
    assert proc.returncode == 0, proc.stderr
    assert "std differs per channel" in proc.stdout
    text = (out / "config_infer_primary_edgeunet.txt").read_text()
    assert "NOT exact in this file alone" in text
    prop = _property(out / "config_infer_primary_edgeunet.txt")
    assert prop["model-color-format"] == "0" and prop["network-mode"] == "2" and prop["num-detected-classes"] == "3"
    pixels = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    original = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    exported = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    logits = original.run(None, {"input": normalize(pixels, spec)[None]})[0][0]
    probs = exported.run(None, {"input": _nvinfer_input(pixels, prop)})[0][0]
    softmax = np.exp(logits - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
    np.testing.assert_allclose(probs, softmax, rtol=1e-4, atol=1e-5)
    assert (nvinfer_class_map(probs) == logits.argmax(0)).all()


def _write_spec_conv(path: Path, spec, weight_seed: int = 0) -> None:
    """A 1x1-conv 'model' with edgeunet metadata: enough to check the exported head and normalisation."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgeunet.core.onnx_model import KEY_PRECISION, KEY_SPEC, set_metadata

    rng = np.random.default_rng(weight_seed)
    h, w = spec.input_size
    weight = numpy_helper.from_array(rng.standard_normal((spec.out_channels, spec.in_channels, 1, 1)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["output"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, spec.in_channels, h, w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, spec.out_channels, h, w])], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    set_metadata(model, {KEY_SPEC: spec.to_json(), KEY_PRECISION: "fp32"})
    onnx.save(model, str(path))


def test_deepstream_bad_inputs(models: Path, tmp_path: Path, tiny_run: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("keep")
    foreign = tmp_path / "foreign.onnx"
    _write_foreign_onnx(foreign)
    cases: List[tuple] = [
        (("export-deepstream", models / "uint8.onnx", "--out", tmp_path / "a"), "--io float"),
        (("export-deepstream", tiny_run / "best.pt", "--out", tmp_path / "b"), "pass an .onnx"),
        (("export-deepstream", foreign, "--out", tmp_path / "c"), "without edgeunet metadata"),
        (("export-deepstream", models / "float.onnx", "--out", taken), "already exists"),
        (("export-deepstream", models / "float.onnx", "--out", tmp_path / "d", "--batch-size", "4"), "fixed batch"),
        (("export-deepstream", tmp_path / "x.engine", "--out", tmp_path / "e"), "pass the onnx"),
    ]
    for args, fragment in cases:
        assert_user_error(run_cli(*args), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.onnx", "taken"]


def test_deepstream_dynamic_batch(models: Path, tmp_path: Path) -> None:
    proc = run_cli("export-deepstream", models / "dynamic.onnx", "--out", tmp_path / "ds", "--batch-size", "4")
    assert proc.returncode == 0, proc.stderr
    prop = _property(tmp_path / "ds" / "config_infer_primary_edgeunet.txt")
    assert prop["batch-size"] == "4" and prop["model-engine-file"] == "model.onnx_b4_gpu0_fp32.engine"
    session = ort.InferenceSession(str(tmp_path / "ds" / "model.onnx"), providers=["CPUExecutionProvider"])
    probs = session.run(None, {"input": np.zeros((4, 1, 64, 64), np.float32)})[0]
    assert probs.shape == (4, 2, 64, 64)
