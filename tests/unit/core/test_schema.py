"""Untrusted model files: every malformed field is one line that names it; text stays data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.schema import clean_text
from edgeunet.core.spec import ModelSpec

GOOD = ModelSpec().to_dict()


@pytest.mark.parametrize(("field", "value"), [
    ("in_channels", "3"), ("in_channels", 2.5), ("in_channels", True), ("num_classes", 10 ** 9), ("num_classes", None),
    ("class_names", "background"), ("class_names", [1, 2]), ("class_names", ["x" * 5000, "y"]),
    ("colors", [[0, 0, 999]]), ("colors", "red"), ("input_size", [10 ** 9, 10 ** 9]), ("input_size", [256]),
    ("input_size", ["256", "256"]), ("mean", [float("nan")]), ("std", [0.0]), ("std", [-1.0]), ("threshold", 7),
    ("io", "int4"), ("mask_values", [[0]]), ("mask_values", {"0": 1}), ("ignore_index", -1), ("resize", "crop"),
    ("size_multiple", 0), ("channel_order", 3), ("spec_version", "1"),
])
def test_a_malformed_spec_field_is_one_line_naming_it(field: str, value: object) -> None:
    with pytest.raises(EdgeUnetError) as info:
        ModelSpec.from_dict({**GOOD, field: value}, "m.onnx")
    message = str(info.value)
    assert f"field '{field}'" in message and "\n" not in message and message.startswith("m.onnx:")


def test_a_newer_spec_asks_for_an_upgrade() -> None:
    with pytest.raises(EdgeUnetError, match="newer than this edgeunet"):
        ModelSpec.from_dict({**GOOD, "spec_version": 99}, "m.onnx")


def test_class_names_lose_their_control_characters() -> None:
    spec = ModelSpec.from_dict({**GOOD, "class_names": ["back\x1b[31mground", "cell\nrm -rf /"]}, "m.onnx")
    assert spec.class_names == ["back?[31mground", "cell?rm -rf /"]
    assert all(ch.isprintable() for name in spec.class_names for ch in name)


def test_a_class_id_beyond_the_classes_is_refused() -> None:
    with pytest.raises(EdgeUnetError, match="beyond the 2 classes"):
        ModelSpec.from_dict({**GOOD, "mask_values": [[0, 0], [255, 7]]}, "m.onnx")


def test_clean_text_bounds_and_escapes() -> None:
    assert clean_text("a\x07b\x1b[2Jc") == "a?b?[2Jc" and clean_text("x" * 500, 10) == "x" * 10 + "..."


def test_onnx_metadata_with_a_bad_field_is_one_line(tmp_path: Path) -> None:
    from edgeunet.core.onnx_model import spec_from_metadata

    with pytest.raises(EdgeUnetError, match="field 'input_size'"):
        spec_from_metadata({"edgeunet.spec": json.dumps({**GOOD, "input_size": "big"})}, "m.onnx")
