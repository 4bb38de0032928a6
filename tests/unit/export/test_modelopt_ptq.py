"""ModelOpt's ONNX PTQ as a second calibrate engine (export/modelopt_ptq.py) and the Q/DQ pair count (export/inspect.count_qdq)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeunet.core.errors import EdgeUnetError


def _modelopt_onnx_or_skip() -> None:
    try:
        from modelopt.onnx import quantization  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"NVIDIA ModelOpt's ONNX tools not installed ({exc}): pip install 'edgeunet[train,qat]'")


def _qdq_graph(path: Path) -> Path:
    """input -Q->DQ-> Conv(weight: int8 constant -> DQ) -> output: one Q/DQ pair and one DQ-only weight."""
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "z")
    weight = numpy_helper.from_array(np.ones((2, 1, 1, 1), np.int8), "w_q")
    wscale = numpy_helper.from_array(np.full(2, 0.05, np.float32), "ws")
    wzero = numpy_helper.from_array(np.zeros(2, np.int8), "wz")
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w_q", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [scale, zero, weight, wscale, wzero])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_count_qdq_tells_pairs_from_int8_weights(tmp_path: Path) -> None:
    from edgeunet.export.inspect import count_qdq

    count = count_qdq(_qdq_graph(tmp_path / "g.onnx"))
    assert (count.pairs, count.dq_only, count.quantize, count.dequantize) == (1, 1, 1, 2)
    assert count.quantized_tensors == 2 and count.text() == "1 Q/DQ pairs + 1 int8 weight DQ"


def test_engine_arguments_are_checked_before_work(tmp_path: Path) -> None:
    from edgeunet.export.int8 import Int8Options, quantize_and_gate

    for settings, message in (({"engine": "nvidia"}, "--engine nvidia"), ({"engine": "modelopt", "target": "cpu"}, "drop --target cpu"),
                              ({"engine": "modelopt", "method": "percentile"}, "no percentile"),
                              ({"engine": "modelopt", "keep_float": ["conv"]}, "--keep-float, --fallback auto and --sensitivity")):
        with pytest.raises(EdgeUnetError, match=message):
            quantize_and_gate(tmp_path / "m.onnx", tmp_path, tmp_path / "o.onnx", Int8Options(gate=False, **settings))  # type: ignore[arg-type]


def test_modelopt_ptq_on_the_tiny_model(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """Same images and preprocess as calibrate; our metadata kept; TensorRT 10.3 check; Q/DQ pairs counted."""
    _modelopt_onnx_or_skip()
    from edgeunet.core.images import read_image
    from edgeunet.core.onnx_model import KEY_CALIBRATION, KEY_PRECISION, KEY_SPEC, KEY_TARGET, load_onnx, read_metadata, read_spec
    from edgeunet.core.processing import preprocess
    from edgeunet.data.splits import sample_images
    from edgeunet.export.inspect import count_qdq, inspect_onnx
    from edgeunet.export.int8 import Int8Options, quantize_and_gate
    from edgeunet.export.modelopt_ptq import calibration_array

    spec = read_spec(tiny_onnx)
    images = sample_images(synth_data, 4, 0)
    array = calibration_array(images, spec)
    assert array.shape == (4, spec.in_channels, *spec.input_size) and array.dtype == np.float32
    assert np.array_equal(array[1:2], preprocess(read_image(images[1]), spec))

    out = tmp_path / "tiny.int8-modelopt.onnx"
    options = Int8Options(engine="modelopt", num_images=4, method="minmax", gate=False, manifest_dir=tmp_path / "calibration")
    result, gate = quantize_and_gate(tiny_onnx, synth_data, out, options)
    assert out.is_file() and result.manifest_path.is_file() and result.num_images == 4 and gate is None
    assert result.manifest["engine"] == "modelopt" and ".modelopt-minmax-seed0" in result.manifest_path.name
    metadata = read_metadata(load_onnx(out))
    source = read_metadata(load_onnx(tiny_onnx))
    assert metadata[KEY_SPEC] == source[KEY_SPEC]
    assert metadata[KEY_PRECISION] == "int8" and metadata[KEY_TARGET] == "tensorrt" and "modelopt" in metadata[KEY_CALIBRATION]
    report = inspect_onnx(out, trt="10.3")
    assert report.tensorrt_ok, report.all_problems
    assert count_qdq(out).pairs > 0
    assert not list(tmp_path.glob(".edgeunet-modelopt-*"))  # no intermediate files left behind


def test_missing_modelopt_is_one_line_with_the_install_step(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from edgeunet.core.errors import MissingDependencyError
    from edgeunet.export.modelopt_ptq import require_modelopt_onnx

    for name in ("modelopt", "modelopt.onnx", "modelopt.onnx.quantization"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"--engine modelopt needs .*pip install 'edgeunet\[train,qat\]'") as info:
        require_modelopt_onnx()
    assert "\n" not in str(info.value)


def test_our_calibration_still_works_after_modelopt_in_the_same_process(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """ModelOpt patches ONNX Runtime's calibrators in place; bench runs int8-modelopt and int8 rows in one process."""
    _modelopt_onnx_or_skip()
    from onnxruntime.quantization import calibrate

    from edgeunet.export.int8 import Int8Options, quantize_and_gate

    before = (calibrate.MinMaxCalibrater.collect_data, calibrate.create_calibrator, calibrate.CalibraterBase.__init__)
    for engine in ("modelopt", "edgeunet"):
        options = Int8Options(engine=engine, num_images=4, method="minmax", gate=False, manifest_dir=tmp_path / "cal", progress=False)
        calib, _ = quantize_and_gate(tiny_onnx, synth_data, tmp_path / f"{engine}.int8.onnx", options)
        assert calib.onnx_path.is_file() and calib.quantized_nodes > 0
    assert (calibrate.MinMaxCalibrater.collect_data, calibrate.create_calibrator, calibrate.CalibraterBase.__init__) == before
