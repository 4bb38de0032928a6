"""export/quantize.py: ONNX Runtime's quantizer with our settings, in memory (the write is export/int8_result.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import read_spec
from edgeunet.data.splits import sample_images
from edgeunet.export.quantize import _stride, check_percentile, check_source, ort_quantize


def test_tensorrt_target_is_symmetric_qdq_with_convtranspose_float_and_writes_nothing(tiny_onnx: Path, synth_data: Path,
                                                                                      tmp_path: Path) -> None:
    images = sample_images(synth_data, 4, 0)
    quantized = ort_quantize(tiny_onnx, images, read_spec(tiny_onnx), "minmax", "tensorrt", workdir=tmp_path, progress=False)
    ops = [node.op_type for node in quantized.model.graph.node]
    transposed = [node.name for node in quantized.model.graph.node if node.op_type == "ConvTranspose"]
    assert "QuantizeLinear" in ops and quantized.float_nodes == transposed and transposed
    assert quantized.manifest_fields == {"float_nodes": transposed} and quantized.producer is None
    for init in quantized.model.graph.initializer:
        if init.name.endswith("zero_point"):
            assert init.data_type == 3  # INT8: symmetric, what TensorRT accepts
    assert not list(tmp_path.iterdir())  # quant_pre_process's files lived in a temporary folder only


def test_cpu_target_is_qoperator_with_nothing_left_float(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    quantized = ort_quantize(tiny_onnx, sample_images(synth_data, 2, 0), read_spec(tiny_onnx), "entropy", "cpu", workdir=tmp_path,
                             progress=False)
    assert quantized.float_nodes == [] and any(node.op_type == "QLinearConv" for node in quantized.model.graph.node)
    assert {o.domain for o in quantized.model.opset_import} <= {"", "ai.onnx", "com.microsoft"}


def test_small_helpers(tiny_onnx: Path) -> None:
    assert _stride(64) == 8 and _stride(7) == 7 and _stride(13) == 1
    check_percentile(99.99)
    with pytest.raises(EdgeUnetError, match="--percentile 101"):
        check_percentile(101)
    model, metadata, spec = check_source(tiny_onnx, "calibrate")
    assert spec.input_size == [64, 64] and model.graph.node
