"""edgeunet.trt.calibrator's feeder and edgeunet.trt.calibration's manifest and batches, pinned exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trtsim import live_allocations
from tests.trtsim.test_edgeunet_trt import calibration_set


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_feeder_without_any_tensorrt_call_reports_zero_batches(trt: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.calibrator import _Feeder

    feeder = _Feeder(calibration_set(tmp_path))
    assert feeder.used_cache is False and feeder.fed == 0 and feeder.error is None
    with pytest.raises(EdgeUnetError, match=r"^INT8 calibration stopped after 0 of 3 batches"):
        feeder.raise_if_failed()
    assert feeder.next_pointers(["input"]) and len(live_allocations()) == 1
    feeder.close()
    assert live_allocations() == [] and feeder._device is None
    feeder.close()


@pytest.mark.parametrize("trt", ["10.3"], indirect=True)
def test_feeder_reports_an_edgeunet_error_as_its_own_line(trt: Any, tmp_path: Path) -> None:
    from edgeunet.core.errors import EdgeUnetError
    from edgeunet.trt.calibrator import _Feeder

    feeder = _Feeder(calibration_set(tmp_path, bad=0))
    with pytest.raises(EdgeUnetError):
        feeder.next_pointers(["input"])
    with pytest.raises(EdgeUnetError) as info:
        feeder.raise_if_failed()
    text = str(info.value)
    assert text.startswith("INT8 calibration failed, the engine was not written: ") and "EdgeUnetError" not in text and "img0.png" in text
    feeder.error = ValueError("boom")
    with pytest.raises(EdgeUnetError, match=r"not written: ValueError: boom$"):
        feeder.raise_if_failed()


def test_manifest_format_and_batches(tmp_path: Path) -> None:
    import dataclasses

    from edgeunet.core.atomic import sha256_bytes

    calib = dataclasses.replace(calibration_set(tmp_path, count=4), batch_size=2, tensorrt_version="10.3.0")
    manifest = calib.manifest()
    assert manifest == {
        "kind": "tensorrt-implicit-calibration", "method": "entropy", "seed": 0, "onnx_sha256": "0" * 64, "num_images": 4,
        "batch_size": 2, "tensorrt_version": "10.3.0", "cache": "c.entropy.cache",
        "images": [{"path": str(p), "sha256": sha256_bytes(p.read_bytes())} for p in calib.images],
    }
    batches = list(calib.batches())
    assert [b.shape for b in batches] == [(2, 1, 8, 8), (2, 1, 8, 8)] and batches[0].dtype == np.float32
    assert not np.array_equal(batches[0][0], batches[0][1])  # two images stacked on the batch axis
