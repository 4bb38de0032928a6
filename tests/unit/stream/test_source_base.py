"""The Source protocol: every source the table opens satisfies it, so the pipeline never needs to know the kind."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeunet.stream.source_base import OK, Source, SourceSpec


def test_an_image_folder_source_is_a_source(tmp_path: Path) -> None:
    from edgeunet.stream.capture import ImageFolderSource

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    source = ImageFolderSource(SourceSpec(kind="folder", location=str(tmp_path), text=str(tmp_path)), [tmp_path / "a.png"])
    assert isinstance(source, Source)
    status, frame, _ = source.open().read()
    assert status == OK and frame is not None and frame.shape == (8, 8, 3)
    source.close()


def test_a_spec_keeps_credentials_only_in_its_location() -> None:
    spec = SourceSpec(kind="rtsp", location="rtsp://u:p@cam/s", text="rtsp://u:***@cam/s", live=True)
    assert "p@" not in spec.text and spec.live and spec.options == {}
