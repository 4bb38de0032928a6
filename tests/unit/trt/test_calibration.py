"""edgeunet.trt.calibration: the manifest that decides whether a TensorRT calibration cache may be reused."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeunet.core.spec import ModelSpec
from edgeunet.trt.calibration import CalibrationSet, make_calibration_set


def _images(folder: Path, count: int = 2) -> Path:
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"img{i}.png"), (np.random.RandomState(i).rand(8, 8) * 255).astype(np.uint8))
    return folder


# before: the manifest had no TensorRT version, so after a JetPack 5 -> 6 upgrade an 8.5 cache was reused on 10.3
def test_cache_from_another_tensorrt_version_is_not_reused(tmp_path: Path) -> None:
    data = _images(tmp_path / "calib")
    spec = ModelSpec(in_channels=1, input_size=[8, 8])

    def calib(version: str) -> CalibrationSet:
        return make_calibration_set(data, spec, "0" * 64, "m", "entropy", num_images=2, folder=tmp_path / "c", tensorrt_version=version)

    old = calib("8.5.3.1")
    assert old.manifest()["tensorrt_version"] == "8.5.3.1"
    old.cache_path.parent.mkdir()
    old.cache_path.write_text("TRT-8503-EntropyCalibration2\ninput: 3c010a14\n")
    old.write_manifest()
    assert old.read_cache() is not None
    assert calib("8.5.3.1").read_cache() is not None
    new = calib("10.3.0")
    assert new.cache_path == old.cache_path and new.read_cache() is None
    assert new.manifest_sha256() != old.manifest_sha256()


def test_make_calibration_set_defaults_and_names(tmp_path: Path) -> None:
    import pytest

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.data.splits import sample_images
    from edgeunet.trt.calibration import DEFAULT_DIR

    data = _images(tmp_path / "calib", count=66)
    spec = ModelSpec(in_channels=1, input_size=[8, 8])
    sha = "0123456789abcdef" * 4
    calib = make_calibration_set(data, spec, sha, "model.fp32", "minmax")
    assert calib.images == sample_images(data, 64, 0) and calib.seed == 0 and calib.batch_size == 1
    assert calib.spec is spec and calib.method == "minmax" and calib.onnx_sha256 == sha and calib.tensorrt_version == ""
    assert calib.cache_path == DEFAULT_DIR / "model.fp32-0123456789ab.trt-minmax.cache"
    assert calib.manifest_path == DEFAULT_DIR / "model.fp32-0123456789ab.trt-minmax.json"
    other = make_calibration_set(data, spec, sha, "m", "entropy", num_images=5, seed=3, folder=tmp_path / "c", batch_size=2)
    assert other.images == sample_images(data, 5, 3) and other.seed == 3 and other.batch_size == 2
    assert other.cache_path == tmp_path / "c" / "m-0123456789ab.trt-entropy.cache"
    manifest = other.manifest()
    assert manifest["method"] == "entropy" and manifest["seed"] == 3 and manifest["onnx_sha256"] == sha and manifest["num_images"] == 5
    with pytest.raises(EdgeUnetError, match="--calibrator qdq: TensorRT's implicit calibrators are entropy and minmax"):
        make_calibration_set(data, spec, sha, "m", "qdq")


def test_parse_calibration_cache_lines() -> None:
    import pytest

    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.calibration import parse_calibration_cache

    text = "TRT-100300-EntropyCalibration2\nonnx::Conv_3: 3c010a14\ninput: 3f800000\n"
    assert parse_calibration_cache(text) == {"onnx::Conv_3": pytest.approx(0.00788, rel=1e-3), "input": 1.0}  # names may hold ':'
    with pytest.raises(EdgeUnetError, match=r"^calibration cache: not a TensorRT calibration cache"):
        parse_calibration_cache("nothing")
    with pytest.raises(EdgeUnetError, match=r"^calibration cache: malformed line 'abcdefgh'"):
        parse_calibration_cache("TRT-1\nabcdefgh\n")
    with pytest.raises(EdgeUnetError, match=r"malformed scale in 'x: zzzzzzzz'"):
        parse_calibration_cache("TRT-1\nx: zzzzzzzz\n")


def test_read_cache_needs_both_files_and_names_a_bad_cache(tmp_path: Path) -> None:
    import pytest

    from edgeunet.core.errors import EdgeUnetError

    data = _images(tmp_path / "calib")
    calib = make_calibration_set(data, ModelSpec(in_channels=1, input_size=[8, 8]), "0" * 64, "m", "entropy", num_images=2,
                                 folder=tmp_path / "c")
    calib.cache_path.parent.mkdir()
    calib.write_manifest()
    assert calib.read_cache() is None  # a manifest without its cache
    text = calib.manifest_text()
    assert text.index('"batch_size"') < text.index('"kind"') < text.index('"tensorrt_version"')  # sorted: stable hashes
    for blob in (b"\xff\xfe not text", b"garbage"):
        calib.cache_path.write_bytes(blob)
        with pytest.raises(EdgeUnetError, match=rf"^{calib.cache_path}: not a TensorRT calibration cache"):
            calib.read_cache()


def test_too_few_images_for_the_batch(tmp_path: Path) -> None:
    import pytest

    from edgeunet.core.errors import EdgeUnetError

    data = _images(tmp_path / "calib", count=1)
    with pytest.raises(EdgeUnetError) as info:
        make_calibration_set(data, ModelSpec(in_channels=1, input_size=[8, 8]), "0" * 64, "m", "entropy", batch_size=2)
    assert str(info.value) == ("calibration needs at least 2 image(s) (the model's fixed batch), found 1; "
                               "add calibration images or export the model with --dynamic")
