"""Reading images and masks: 8-bit out of 16-bit and alpha inputs, one-line errors for what cannot be a dataset file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.images import image_channels, read_image, read_mask, to_uint8


def test_alpha_is_dropped_and_16_bit_becomes_8_bit(tmp_path: Path) -> None:
    bgra = np.full((4, 5, 4), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert read_image(tmp_path / "a.png").shape == (4, 5, 3)
    deep = np.full((3, 3), 0xAB00, np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    assert read_image(tmp_path / "d.png").max() == 0xAB


def test_gray_masks_stored_as_three_equal_channels_are_accepted(tmp_path: Path) -> None:
    mask = np.zeros((4, 4, 3), np.uint8)
    mask[1:3, 1:3] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    assert read_mask(tmp_path / "m.png").shape == (4, 4)
    mask[0, 0] = (1, 2, 3)
    cv2.imwrite(str(tmp_path / "c.png"), mask)
    with pytest.raises(EdgeUnetError, match="colour mask"):
        read_mask(tmp_path / "c.png")


@pytest.mark.parametrize("content, fragment", [(None, "no such file"), (b"", "not a readable image"), (b"garbage", "not a readable image")])
def test_missing_empty_and_corrupt_files_are_one_line(tmp_path: Path, content: bytes | None, fragment: str) -> None:
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EdgeUnetError, match=fragment):
        read_image(path)


def test_float_pixels_are_refused_and_channels_counted(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="unsupported pixel type"):
        to_uint8(np.zeros((2, 2), np.float32), tmp_path / "f.tif")
    assert image_channels(np.zeros((2, 2), np.uint8)) == 1 and image_channels(np.zeros((2, 2, 3), np.uint8)) == 3
