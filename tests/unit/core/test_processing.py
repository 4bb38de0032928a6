from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeunet.core.processing import postprocess, preprocess
from edgeunet.core.spec import ModelSpec


def test_gray_model_takes_colour_frames_and_normalises() -> None:
    spec = ModelSpec(in_channels=1, input_size=[32, 48], mean=[0.5], std=[0.25])
    frame = np.full((60, 80, 3), 255, np.uint8)
    x = preprocess(frame, spec)
    assert x.shape == (1, 1, 32, 48) and x.dtype == np.float32
    np.testing.assert_allclose(x, 2.0, atol=1e-5)


def test_rgb_order_and_uint8_io() -> None:
    spec = ModelSpec(in_channels=3, channel_order="rgb", input_size=[16, 16], mean=[0, 0, 0], std=[1, 1, 1], io="uint8")
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[..., 0] = 200  # blue in BGR
    x = preprocess(frame, spec)
    assert x.shape == (1, 16, 16, 3) and x.dtype == np.uint8
    assert x[0, 0, 0].tolist() == [0, 0, 200]


def test_binary_threshold_and_resize_back() -> None:
    spec = ModelSpec(threshold=0.5)
    logits = np.full((1, 1, 8, 8), -3.0, np.float32)
    logits[..., :, 4:] = 3.0
    mask = postprocess(logits, spec, (16, 32))
    assert mask.shape == (16, 32) and mask.dtype == np.uint8
    assert mask[:, :14].max() == 0 and mask[:, 18:].min() == 1


def test_threshold_is_on_probability() -> None:
    spec = ModelSpec(threshold=0.9)
    logits = np.full((1, 1, 2, 2), 1.0, np.float32)  # sigmoid(1) = 0.73 < 0.9
    assert postprocess(logits, spec).max() == 0


def test_multiclass_argmax() -> None:
    spec = ModelSpec(num_classes=3, class_names=["a", "b", "c"])
    logits = np.zeros((1, 3, 4, 4), np.float32)
    logits[0, 2, :2] = 5
    mask = postprocess(logits, spec, (8, 8))
    assert set(np.unique(mask).tolist()) == {0, 2}


def test_uint8_mask_output_resized_nearest() -> None:
    spec = ModelSpec(io="uint8")
    out = np.zeros((1, 1, 4, 4), np.uint8)
    out[..., 2:] = 1
    assert set(np.unique(postprocess(out, spec, (8, 8))).tolist()) == {0, 1}


def test_letterbox_keeps_aspect_pads_bottom_right_and_undoes_it() -> None:
    from edgeunet.core.processing import letterbox_size

    spec = ModelSpec(in_channels=1, input_size=[64, 64], mean=[0.0], std=[1.0], resize="letterbox")
    frame = np.full((90, 120), 255, np.uint8)  # 3:4 frame in a square model
    x = preprocess(frame, spec)
    assert x.shape == (1, 1, 64, 64) and letterbox_size((90, 120), spec) == (48, 64)
    assert np.all(x[0, 0, :48] == 1.0) and np.all(x[0, 0, 48:] == 0.0)  # image on top, zero padding below
    logits = np.full((1, 1, 64, 64), -5.0, np.float32)
    logits[..., :48, :32] = 5.0  # left half of the picture area is foreground
    mask = postprocess(logits, spec, (90, 120))
    assert mask.shape == (90, 120)
    assert mask[:, :58].all() and not mask[:, 62:].any()  # the padding never reaches the frame


def test_stretch_model_of_another_aspect_just_resizes() -> None:
    spec = ModelSpec(in_channels=1, input_size=[32, 64], mean=[0.0], std=[1.0])
    x = preprocess(np.zeros((100, 100), np.uint8), spec)
    assert x.shape == (1, 1, 32, 64)
    assert postprocess(np.full((1, 1, 32, 64), 4.0, np.float32), spec, (100, 100)).all()


def test_native_pads_to_the_size_multiple_and_crops_back() -> None:
    spec = ModelSpec(in_channels=1, input_size=[32, 32], mean=[0.0], std=[1.0], resize="native", size_multiple=16)
    x = preprocess(np.zeros((37, 50), np.uint8), spec)
    assert x.shape == (1, 1, 48, 64)
    assert postprocess(np.zeros((1, 1, 48, 64), np.float32), spec, (37, 50)).shape == (37, 50)


def test_mask_letterbox_padding_is_ignored() -> None:
    from edgeunet.core.processing import mask_to_input
    from edgeunet.core.spec import IGNORE_LABEL

    spec = ModelSpec(input_size=[16, 16], resize="letterbox")
    out = mask_to_input(np.ones((8, 16), np.uint8), spec)
    assert (out[:8] == 1).all() and (out[8:] == IGNORE_LABEL).all()


def _e2e_spec(frame_dtype: str = "uint8") -> ModelSpec:
    return ModelSpec(in_channels=3, num_classes=3, class_names=["a", "b", "c"], input_size=[32, 32], channel_order="rgb",
                     mean=[0.5] * 3, std=[0.25] * 3, io="end-to-end", frame_size=[48, 64], frame_dtype=frame_dtype)


def test_end_to_end_frames_pass_untouched_and_masks_come_back_as_they_are() -> None:
    spec = _e2e_spec()
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    x = preprocess(frame, spec)
    assert x.shape == (1, 48, 64, 3) and x.dtype == np.uint8 and np.shares_memory(x, frame)  # no copy on the hot path
    mask = np.random.default_rng(1).integers(0, 3, (1, 48, 64), dtype=np.uint8)
    assert np.array_equal(postprocess(mask, spec, (48, 64)), mask[0])


def test_end_to_end_other_sizes_are_resized_once_with_one_warning(capsys: pytest.CaptureFixture[str]) -> None:
    spec = _e2e_spec("float32")
    gray = np.zeros((30, 40), np.uint8)
    for _ in range(3):
        x = preprocess(gray, spec)
    assert x.shape == (1, 48, 64, 3) and x.dtype == np.float32
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("warning: frames are 40x30") and "--frame-size 30x40" in lines[0]
    mask = postprocess(np.ones((1, 48, 64), np.int32), spec, (30, 40))  # the float32 variant's INT32 mask
    assert mask.shape == (30, 40) and mask.dtype == np.uint8 and mask.all()


def _region_logits(classes: int, hw: tuple, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = cv2.resize(rng.integers(0, classes, (4, 5)).astype(np.uint8), (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST)
    onehot = (np.arange(classes)[:, None, None] == labels[None]).astype(np.float32) * 4
    return (onehot + rng.normal(0, 0.5, onehot.shape).astype(np.float32))[None]


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "native"])
@pytest.mark.parametrize("classes", [2, 5])
def test_fast_upsample_equals_the_reference_path(resize: str, classes: int) -> None:
    spec = ModelSpec(num_classes=classes, input_size=[32, 48], resize=resize)
    frame_hw = (90, 100) if resize != "native" else (30, 45)
    channels = 1 if classes == 2 else classes
    logits = _region_logits(max(classes, 2), (32, 48))[:, :channels] * (1 if classes > 2 else 2) - (0 if classes > 2 else 2)
    fast = postprocess(logits, spec, frame_hw)
    assert fast.shape == frame_hw
    assert np.array_equal(fast, postprocess(logits, spec, frame_hw, upsample="logits"))
    assert np.array_equal(postprocess(logits, spec), postprocess(logits, spec, upsample="logits"))  # model size


def test_unknown_upsample_is_one_line() -> None:
    from edgeunet.core.errors import EdgeUnetError

    with pytest.raises(EdgeUnetError, match="--upsample cubic: choose from fast, logits"):
        postprocess(np.zeros((1, 3, 4, 4), np.float32), ModelSpec(num_classes=3), (8, 8), upsample="cubic")


def test_colour_frames_are_resized_before_the_channel_swap_with_the_same_result() -> None:
    spec = ModelSpec(in_channels=3, channel_order="rgb", input_size=[24, 40], mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3])
    frame = np.random.default_rng(5).integers(0, 256, (90, 130, 3), dtype=np.uint8)
    rgb = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (40, 24), interpolation=cv2.INTER_LINEAR)
    expected = (rgb.astype(np.float32) / 255.0 - np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)
    np.testing.assert_allclose(preprocess(frame, spec)[0], expected.transpose(2, 0, 1), atol=1e-5)


def test_overlay_image_takes_either_variants_output() -> None:
    """uint8 from the default export; float (already rounded and clipped in the graph) from TensorRT 8.5's float32 variant."""
    from edgeunet.core.processing import overlay_image

    as_uint8 = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(1, 2, 3, 3)
    assert overlay_image(as_uint8).shape == (2, 3, 3) and np.array_equal(overlay_image(as_uint8), as_uint8[0])
    as_float = as_uint8.astype(np.float32)
    got = overlay_image(as_float)
    assert got.dtype == np.uint8 and np.array_equal(got, as_uint8[0])
