"""`inspect` finds what TensorRT would reject in hand-made Q/DQ graphs (no torch, no ORT run)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeunet.core.errors import EdgeUnetError
from edgeunet.export.inspect import inspect_onnx


def _qdq_conv(
    path: Path,
    zp_dtype: type = np.int8,
    act_zero: int = 0,
    weight_axis: int = 0,
    per_channel: bool = True,
    opset: int = 17,
    act_per_channel: bool = False,
    extra_node: Optional[onnx.NodeProto] = None,
) -> Path:
    """input -> Q -> DQ -> Conv(W via DQ) -> output, with the quantization choices under test."""
    out_ch, in_ch = 4, 2
    w = numpy_helper.from_array(np.ones((out_ch, in_ch, 3, 3), np.int8 if zp_dtype == np.int8 else np.uint8), "w_q")
    n_w = out_ch if per_channel else 1
    w_scale = numpy_helper.from_array(np.full((n_w,) if per_channel else (), 0.1, np.float32), "w_scale")
    w_zero = numpy_helper.from_array(np.zeros((n_w,) if per_channel else (), zp_dtype), "w_zero")
    n_a = in_ch if act_per_channel else 1
    a_scale = numpy_helper.from_array(np.full((n_a,) if act_per_channel else (), 0.05, np.float32), "a_scale")
    a_zero = numpy_helper.from_array(np.full((n_a,) if act_per_channel else (), act_zero, zp_dtype), "a_zero")
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "a_scale", "a_zero"], ["xq"], name="in_q", **({"axis": 1} if act_per_channel else {})),
        helper.make_node("DequantizeLinear", ["xq", "a_scale", "a_zero"], ["xd"], name="in_dq", **({"axis": 1} if act_per_channel else {})),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["wd"], name="w_dq",
                         **({"axis": weight_axis} if per_channel else {})),
        helper.make_node("Conv", ["xd", "wd"], ["output"], name="conv", pads=[1, 1, 1, 1]),
    ]
    if extra_node is not None:
        nodes.append(extra_node)
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, in_ch, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, out_ch, 8, 8])],
        [w, w_scale, w_zero, a_scale, a_zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, str(path))
    return path


def test_trt_valid_graph_has_no_problems(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "ok.onnx"))
    assert report.problems == [], report.problems
    s = report.summary()
    assert s["nonzero_zero_points"] == 0 and s["zero_point_dtypes"] == ["int8"]
    assert s["weights_per_channel_axis0"] == s["weights_total"] == 1
    assert s["activations_per_tensor"] == s["activations_total"] == 1
    assert "nothing it would reject" in report.to_text()
    assert any("no edgeunet metadata" in w for w in report.warnings)


def test_nonzero_zero_point(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", act_zero=3))
    assert any("non-zero zero point" in p for p in report.problems)


def test_uint8_asymmetric(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", zp_dtype=np.uint8, act_zero=128))
    assert any("uint8 quantization" in p for p in report.problems)
    assert any("non-zero zero point" in p for p in report.problems)


def test_weights_on_wrong_axis(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", weight_axis=1))
    assert any("axis 1" in p and "axis 0" in p for p in report.problems)


def test_per_tensor_weights_is_a_warning_not_a_rejection(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", per_channel=False))
    assert report.problems == []
    assert any("per-tensor Conv weights" in w for w in report.warnings)


def test_per_channel_activation(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", act_per_channel=True))
    assert any("per-channel activation" in p for p in report.problems)


def test_old_opset(tmp_path: Path) -> None:
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", opset=12, per_channel=False))
    assert any("opset 12" in p for p in report.problems)


def test_contrib_and_integer_ops(tmp_path: Path) -> None:
    node = helper.make_node("FusedConv", ["input", "wd"], ["extra"], name="fused", domain="com.microsoft")
    report = inspect_onnx(_qdq_conv(tmp_path / "m.onnx", extra_node=node))
    assert any("com.microsoft.FusedConv" in p for p in report.problems)


def test_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model\n" * 20)
    with pytest.raises(EdgeUnetError, match="not a readable ONNX|not an ONNX"):
        inspect_onnx(bad)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(EdgeUnetError, match="not an ONNX model"):
        inspect_onnx(empty)
