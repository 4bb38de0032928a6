"""nvinfer's resize keys follow the model's resize mode, so DeepStream feeds the network what training did."""

from __future__ import annotations

import configparser

import pytest

from edgeunet.core.spec import ModelSpec
from edgeunet.deploy.deepstream import normalization, nvinfer_config


def _property(spec: ModelSpec) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read_string(nvinfer_config(spec, normalization(spec), "fp32", 1, "model.onnx"))
    return parser["property"]


@pytest.mark.parametrize(("resize", "aspect"), [("stretch", "0"), ("letterbox", "1"), ("native", "0")])
def test_letterbox_models_keep_their_aspect_ratio_in_nvinfer(resize: str, aspect: str) -> None:
    prop = _property(ModelSpec(input_size=[352, 480], resize=resize))
    assert prop["maintain-aspect-ratio"] == aspect
    assert prop["symmetric-padding"] == "0"  # edgeunet pads right/bottom
    assert prop["infer-dims"].endswith(";352;480")
