"""The end-to-end wrapper graph: bit-exact cv2 resize, agreement with the CPU path, overlay, unwrap, TensorRT rules."""

from __future__ import annotations

from typing import Any, Tuple

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_SPEC, read_metadata, set_metadata
from edgeunet.core.overlay import colour_lut, overlay
from edgeunet.core.processing import postprocess, preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.export.end_to_end import FRAME, FrameOptions, _Graph, cv2_linear, frame_options, unwrap, wrap
from edgeunet.export.trt_compat import check_model


def network(spec: ModelSpec, hw: Tuple[int, int], seed: int = 0) -> Any:
    """A small float-I/O 'network' (3x3 Conv + Relu + 1x1 Conv) carrying edgeunet metadata."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.normal(0, 0.5, (8, spec.in_channels, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.5, (spec.out_channels, 8, 1, 1)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["input", "w1"], ["h"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"), helper.make_node("Conv", ["r", "w2"], ["output"], name="conv2")]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, spec.in_channels, *hw])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, spec.out_channels, *hw])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    set_metadata(model, {KEY_SPEC: spec.to_json()})
    return model


def rgb_spec(classes: int = 5, size: Tuple[int, int] = (32, 48), resize: str = "stretch") -> ModelSpec:
    return ModelSpec(in_channels=3, num_classes=classes, class_names=[f"c{i}" for i in range(classes)], input_size=list(size),
                     channel_order="rgb", mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3], resize=resize)


def frames(hw: Tuple[int, int], count: int = 2) -> list:
    rng = np.random.default_rng(1)
    base = cv2.resize(rng.integers(0, 256, (hw[0] // 8 + 1, hw[1] // 8 + 1, 3), dtype=np.uint8), (hw[1], hw[0]))
    return [np.clip(base.astype(int) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8) for _ in range(count)]


def run(model: Any, frame: np.ndarray) -> list:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    dtype = np.float32 if session.get_inputs()[0].type == "tensor(float)" else np.uint8
    return session.run(None, {FRAME: frame[None].astype(dtype)})


def cpu_mask(net: Any, spec: ModelSpec, frame: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(net.SerializeToString(), providers=["CPUExecutionProvider"])
    return postprocess(session.run(None, {"input": preprocess(frame, spec)})[0], spec, frame.shape[:2])


@pytest.mark.parametrize("in_hw,out_hw", [((120, 160), (32, 48)), ((64, 64), (32, 32)), ((30, 50), (64, 80)), ((97, 131), (33, 47))])
def test_cv2_linear_is_bit_exact(in_hw: Tuple[int, int], out_hw: Tuple[int, int]) -> None:
    g = _Graph()
    out = cv2_linear(g, "x", in_hw, out_hw)
    graph = helper.make_graph(g.nodes, "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, *in_hw])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    image = np.random.default_rng(0).integers(0, 256, (*in_hw, 3), dtype=np.uint8)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": image.transpose(2, 0, 1)[None].astype(np.float32)})[0][0].transpose(1, 2, 0)
    expected = cv2.resize(image, (out_hw[1], out_hw[0]), interpolation=cv2.INTER_LINEAR)
    if out_hw[0] <= in_hw[0] and out_hw[1] <= in_hw[1]:  # a camera frame down to the model: bit for bit
        assert np.array_equal(got, expected)
    else:  # upscaling (frames smaller than the model): cv2's vector tail rounds a few values differently
        diff = np.abs(got.astype(int) - expected.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.02


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "native"])
@pytest.mark.parametrize("classes", [2, 5])
def test_masks_equal_the_cpu_path(resize: str, classes: int) -> None:
    spec = rgb_spec(classes, resize=resize)
    frame_hw = (72, 100)
    net_hw = (80, 112) if resize == "native" else (32, 48)
    net = network(spec, net_hw)
    model = wrap(net, spec, FrameOptions(frame_hw))
    for frame in frames(frame_hw):
        mask = run(model, frame)[0]
        assert mask.dtype == np.uint8 and mask.shape == (1, *frame_hw)
        assert np.array_equal(mask[0], cpu_mask(net, spec, frame))


def test_gray_model_and_overlay() -> None:
    spec = ModelSpec(in_channels=1, num_classes=3, class_names=["a", "b", "c"], input_size=[32, 32], channel_order="gray",
                     mean=[0.5], std=[0.25])
    net = network(spec, (32, 32))
    model = wrap(net, spec, FrameOptions((64, 96), overlay_alpha=0.45))
    frame = frames((64, 96), 1)[0]
    mask, blended = run(model, frame)
    ref = cpu_mask(net, spec, frame)
    assert (mask[0] == ref).mean() > 0.999  # cv2's gray conversion is emulated to within rounding of a few pixels
    expected = overlay(frame, mask[0], colour_lut(spec.colors), 0.45)
    assert blended.dtype == np.uint8 and np.abs(blended[0].astype(int) - expected.astype(int)).max() <= 1


def test_float32_variant_for_tensorrt_85() -> None:
    spec = rgb_spec()
    model = wrap(network(spec, (32, 48)), spec, FrameOptions((64, 96), "float32", 0.5))
    mask, blended = run(model, frames((64, 96), 1)[0])
    assert mask.dtype == np.int32 and blended.dtype == np.float32
    assert not check_model(model, "8.5").problems
    uint8 = wrap(network(spec, (32, 48)), spec, FrameOptions((64, 96), "uint8", 0.5))
    problems = check_model(uint8, "8.5").problems
    assert problems and all("--frame-dtype float32" in p for p in problems)


@pytest.mark.parametrize("version", ["8.6", "10.3", "11"])
@pytest.mark.parametrize("classes", [2, 5])
def test_every_wrapper_op_passes_tensorrt_rules(version: str, classes: int) -> None:
    spec = rgb_spec(classes, resize="letterbox")
    model = wrap(network(spec, (32, 48)), spec, FrameOptions((72, 100), overlay_alpha=0.3))
    onnx.checker.check_model(model)
    assert check_model(model, version).problems == []


def test_metadata_and_unwrap_round_trip() -> None:
    spec = rgb_spec()
    net = network(spec, (32, 48))
    model = wrap(net, spec, FrameOptions((64, 96), overlay_alpha=0.5))
    meta = read_metadata(model)
    e2e = ModelSpec.from_json(meta[KEY_SPEC])
    assert e2e.io == "end-to-end" and e2e.frame_size == [64, 96] and e2e.overlay_alpha == 0.5 and e2e.input_size == [32, 48]
    assert frame_options(meta) == FrameOptions((64, 96), "uint8", 0.5)
    back, back_spec = unwrap(model)
    assert back_spec.io == "float" and [i.name for i in back.graph.input] == ["input"] and back.graph.output[0].name == "output"
    x = preprocess(frames((64, 96), 1)[0], spec)
    a = ort.InferenceSession(net.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    b = ort.InferenceSession(back.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert np.array_equal(a, b)
    rewrapped = wrap(back, back_spec, frame_options(meta))
    assert len(rewrapped.graph.node) == len(model.graph.node)


def test_user_mistakes_are_one_line() -> None:
    spec = rgb_spec()
    net = network(spec, (32, 48))
    with pytest.raises(EdgeUnetError, match="--frame-size"):
        wrap(net, spec, FrameOptions((8, 96)))
    with pytest.raises(EdgeUnetError, match="--frame-dtype"):
        wrap(net, spec, FrameOptions((64, 96), "int8"))
    with pytest.raises(EdgeUnetError, match="--alpha"):
        wrap(net, spec, FrameOptions((64, 96), overlay_alpha=2.0))
    with pytest.raises(EdgeUnetError, match="float-I/O"):
        wrap(net, spec.replaced(io="uint8"), FrameOptions((64, 96)))
    with pytest.raises(EdgeUnetError, match="re-export it with --size 32 48"):
        wrap(network(spec, (16, 16)), spec, FrameOptions((64, 96)))
    with pytest.raises(EdgeUnetError, match="not an end-to-end model"):
        unwrap(net)
    with pytest.raises(EdgeUnetError, match="not an end-to-end model"):
        frame_options(read_metadata(net))
