from __future__ import annotations

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.evaluate.tiling import TiledPredictor, tile_starts


def test_tiles_cover_the_side_with_the_last_flush() -> None:
    assert tile_starts(1000, 512, 64) == [0, 448, 488]
    assert tile_starts(300, 512, 64) == [0]
    assert tile_starts(1024, 512, 0) == [0, 512]


def _local_model(batch: np.ndarray) -> np.ndarray:
    """A 'model' whose logits depend on each pixel alone: tiled and whole must then agree exactly."""
    x = batch[:, 0]
    return np.stack([-x, x, 0.5 * x - 1], axis=1)


def test_tiled_equals_whole_for_a_pixelwise_model() -> None:
    spec = ModelSpec(in_channels=1, num_classes=3, class_names=["a", "b", "c"], mean=[0.5], std=[0.25], resize="native")
    frame = np.random.default_rng(0).integers(0, 256, (300, 420), dtype=np.uint8)
    tiled = TiledPredictor(_local_model, spec, tile=128, overlap=32).predict(frame)
    from edgeunet.core.processing import postprocess, preprocess

    whole = postprocess(_local_model(preprocess(frame, spec)), spec, frame.shape)
    assert tiled.shape == frame.shape
    np.testing.assert_array_equal(tiled, whole)


@pytest.mark.parametrize(("tile", "overlap", "fragment"), [(100, 8, "--tile 100"), (128, 64, "--overlap 64")])
def test_bad_tiles_are_one_clear_error(tile: int, overlap: int, fragment: str) -> None:
    with pytest.raises(EdgeUnetError, match=fragment):
        TiledPredictor(_local_model, ModelSpec(), tile, overlap)


def test_uint8_models_cannot_be_blended() -> None:
    with pytest.raises(EdgeUnetError, match="float-I/O"):
        TiledPredictor(_local_model, ModelSpec(io="uint8"), 128, 16)


def test_end_to_end_models_take_whole_frames_only() -> None:
    from types import SimpleNamespace

    from edgeunet.evaluate.tiling import check_fits_fixed_input, fixed_input_hw

    spec = ModelSpec(in_channels=3, num_classes=3, class_names=["a", "b", "c"], mean=[0.5] * 3, std=[0.25] * 3,
                     io="end-to-end", frame_size=[96, 128])
    backend = SimpleNamespace(input_shape=[1, 96, 128, 3])
    assert fixed_input_hw(backend, spec) == (96, 128)
    check_fits_fixed_input(backend, spec, None, None)
    for size, tile in (("native", None), (None, 64)):
        with pytest.raises(EdgeUnetError, match="end-to-end model takes whole frames at 96x128"):
            check_fits_fixed_input(backend, spec, size, tile)
