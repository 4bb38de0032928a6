"""trt/calibrator.py: the implicit INT8 calibrators' callbacks, driven by hand against the emulated TensorRT/pycuda.

Why by hand: TensorRT swallows any exception raised in these callbacks, so the feeder must record it and
`raise_if_failed` must turn it into one line after the build (the full build route is in tests/trtsim).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from tests.trtsim import installed, live_allocations
from tests.trtsim.fixtures import PURGE
from tests.trtsim.test_edgeunet_trt import calibration_set


@pytest.fixture(params=["8.6", "10.3"])
def trt(request: pytest.FixtureRequest) -> Iterator[Any]:
    with installed(request.param, purge=PURGE) as module:
        yield module


def _read_device(pointer: int, nbytes: int) -> np.ndarray:
    from tests.trtsim.cuda import read

    return np.frombuffer(read(pointer, nbytes), dtype=np.float32)


@pytest.mark.parametrize("method", ["entropy", "minmax"])
def test_feeds_every_batch_then_writes_cache_and_manifest(trt: Any, tmp_path: Path, method: str) -> None:
    from edgeunet.trt.calibrator import EntropyCalibrator, MinMaxCalibrator, make_calibrator

    calib = calibration_set(tmp_path, count=2, method=method)
    calibrator = make_calibrator(method, calib)
    assert isinstance(calibrator, MinMaxCalibrator if method == "minmax" else EntropyCalibrator)
    assert isinstance(calibrator, trt.IInt8Calibrator)  # TensorRT accepts it as a calibrator
    assert calibrator.get_batch_size() == 1 and calibrator.read_calibration_cache() is None
    expected = list(calib.batches())
    for batch in expected:
        pointers = calibrator.get_batch(["input"])
        assert len(pointers) == 1
        np.testing.assert_array_equal(_read_device(pointers[0], batch.nbytes), batch.ravel())
    assert calibrator.get_batch(["input"]) == []  # done: TensorRT computes the scales
    cache = b"TRT-100300-EntropyCalibration2\ninput: 3c010a14\n"
    calibrator.write_calibration_cache(memoryview(cache))
    assert calib.cache_path.read_bytes() == cache and calib.manifest_path.is_file()
    calibrator.feeder.raise_if_failed()  # fed 2 of 2
    calibrator.feeder.close()
    calibrator.feeder.close()  # twice is fine
    assert not live_allocations()
    # the same set again: the cache is reused, nothing is fed, and that is not a short calibration
    again = make_calibrator(method, calibration_set(tmp_path, count=2, method=method))
    assert again.read_calibration_cache() == cache
    again.feeder.raise_if_failed()


def test_short_calibration_is_refused(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.calibrator import make_calibrator

    calibrator = make_calibrator("entropy", calibration_set(tmp_path, count=3))
    calibrator.get_batch(["input"])
    with pytest.raises(EdgeUnetError, match="stopped after 1 of 3 batches"):
        calibrator.feeder.raise_if_failed()
    calibrator.feeder.close()


def test_callback_errors_are_kept_and_raised_after_the_build(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.calibrator import make_calibrator

    calibrator = make_calibrator("minmax", calibration_set(tmp_path, count=2, bad=0))
    with pytest.raises(EdgeUnetError):
        calibrator.get_batch(["input"])  # TensorRT would swallow this and stop calibrating
    with pytest.raises(EdgeUnetError, match=r"^INT8 calibration failed, the engine was not written: .*img0\.png"):
        calibrator.feeder.raise_if_failed()


def test_the_first_error_wins_and_foreign_errors_name_their_type(trt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeunet.trt import calibrator as module

    calibrator = module.make_calibrator("entropy", calibration_set(tmp_path, count=1))
    monkeypatch.setattr(module, "atomic_write_bytes", lambda *_: (_ for _ in ()).throw(PermissionError("read-only")))
    with pytest.raises(PermissionError):
        calibrator.write_calibration_cache(b"x")
    monkeypatch.setattr(calibrator.feeder.calibration, "read_cache", lambda: (_ for _ in ()).throw(ValueError("later")))
    with pytest.raises(ValueError):
        calibrator.read_calibration_cache()
    with pytest.raises(EdgeUnetError, match=r"failed, the engine was not written: PermissionError: read-only$"):
        calibrator.feeder.raise_if_failed()


def test_buffer_grows_for_a_larger_batch(trt: Any, tmp_path: Path) -> None:
    from edgeunet.trt.calibrator import make_calibrator

    calibrator = make_calibrator("entropy", calibration_set(tmp_path, count=2))
    small, large = np.zeros((1, 1, 2, 2), np.float32), np.ones((1, 1, 8, 8), np.float32)
    calibrator.feeder._batches = iter([small, large])
    first = calibrator.get_batch(["input"])[0]
    second = calibrator.get_batch(["input"])[0]
    assert first != second and len(live_allocations()) == 1  # the small buffer was freed, not leaked
    np.testing.assert_array_equal(_read_device(second, large.nbytes), large.ravel())
    calibrator.feeder.close()
    assert not live_allocations()
