from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import IGNORE_LABEL, ModelSpec, parse_size


@pytest.mark.parametrize(("text", "expected"), [("256", (256, 256)), (256, (256, 256)), ("352x480", (352, 480)), (" 240X320 ", (240, 320))])
def test_size_square_or_height_by_width(text: object, expected: tuple) -> None:
    assert parse_size(text, multiple=16) == expected


@pytest.mark.parametrize("text", ["0x5", "abc", "16x", "1x2x3", "8", "-16x32", "250x320"])
def test_bad_sizes_name_the_option(text: str) -> None:
    with pytest.raises(EdgeUnetError, match="--size"):
        parse_size(text, multiple=16)


def test_new_fields_round_trip_and_old_specs_still_load() -> None:
    spec = ModelSpec(num_classes=3, class_names=["a", "b", "c"], mask_values=[[0, 0], [1, 1], [2, 2], [9, IGNORE_LABEL]],
                     ignore_index=9, resize="letterbox", input_size=[352, 480])
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec and again.ignored_values == [9]
    old = {k: v for k, v in spec.to_dict().items() if k not in ("ignore_index", "resize", "size_multiple")}
    assert ModelSpec.from_dict(old).resize == "stretch"


def test_unknown_resize_mode_is_rejected() -> None:
    with pytest.raises(EdgeUnetError, match="resize"):
        ModelSpec.from_dict({"resize": "squash"})


def test_end_to_end_fields_are_validated() -> None:
    spec = ModelSpec(io="end-to-end", frame_size=[1080, 1920], overlay_alpha=0.45)
    assert spec.end_to_end and ModelSpec.from_json(spec.to_json()).frame_size == [1080, 1920]
    for bad, fragment in (({"frame_size": []}, "frame_size"), ({"frame_size": [1080, 1920], "frame_dtype": "int8"}, "frame_dtype"),
                          ({"frame_size": [1080, 1920], "overlay_alpha": 3}, "overlay_alpha")):
        with pytest.raises(EdgeUnetError, match=fragment):
            ModelSpec.from_dict({"io": "end-to-end", **bad})
    with pytest.raises(EdgeUnetError, match="end-to-end"):
        ModelSpec.from_dict({"io": "fused"})
    assert not ModelSpec().end_to_end
