"""TensorRT implicit INT8 calibrators (entropy 2 / min-max) that read images via `CalibrationSet`.

Imports tensorrt at module level because the classes subclass TensorRT's pybind trampolines; the module is only
imported from inside `build.build_engine`, after TensorRT was found. Only on TensorRT 8.5-10.x (the classes are
gone in 11, and `plan_build` refuses the route there with a clear error).

The pybind bindings call: get_batch_size(), get_batch(names) -> [device pointers] or [] when done,
read_calibration_cache() -> bytes or None (None = calibrate from images), write_calibration_cache(buffer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, List, Optional

import tensorrt as trt

from edgeunet.core.atomic import atomic_write_bytes
from edgeunet.trt.calibration import CalibrationSet
from edgeunet.trt.cuda import CudaSession, DeviceBuffer

if TYPE_CHECKING:
    import numpy.typing as npt


class _Feeder:
    """Shared state of both calibrators: the image iterator, one device buffer, the cache file."""

    def __init__(self, calibration: CalibrationSet) -> None:
        self.calibration = calibration
        self.session = CudaSession()
        self._batches: Iterator[npt.NDArray[Any]] = calibration.batches()
        self._device: Optional[DeviceBuffer] = None
        self.fed = 0

    def next_pointers(self, names: List[str]) -> List[int]:
        batch = next(self._batches, None)
        if batch is None:
            return []  # no more data: TensorRT computes the scales
        if self._device is None or self._device.nbytes < batch.nbytes:
            self._device = self.session.alloc(batch.nbytes)
        self.session.copy_to_device(self._device, batch)
        self.fed += 1
        return [self._device.ptr for _ in names]  # edgeunet graphs have one input

    def read_cache(self) -> Optional[bytes]:
        return self.calibration.read_cache()

    def write_cache(self, cache: Any) -> None:
        atomic_write_bytes(self.calibration.cache_path, bytes(memoryview(cache)))
        self.calibration.write_manifest()


class _FeederMethods:
    """What both calibrators answer, from the same feeder (a plain mixin: the pybind trampolines find these by name)."""

    feeder: _Feeder

    def get_batch_size(self) -> int:
        return 1

    def get_batch(self, names: list[str]) -> list[int]:
        return self.feeder.next_pointers(names)

    # None means "no cache, calibrate": the binding tests `is None` (TensorRT python/src/infer/pyInt8.cpp).
    def read_calibration_cache(self) -> Optional[bytes]:
        return self.feeder.read_cache()

    def write_calibration_cache(self, cache: Any) -> None:
        self.feeder.write_cache(cache)


class EntropyCalibrator(_FeederMethods, trt.IInt8EntropyCalibrator2):
    """Entropy calibration 2: TensorRT's preferred calibrator and the one DLA requires."""

    def __init__(self, calibration: CalibrationSet) -> None:
        trt.IInt8EntropyCalibrator2.__init__(self)  # pybind trampolines need the explicit base __init__
        self.feeder = _Feeder(calibration)


class MinMaxCalibrator(_FeederMethods, trt.IInt8MinMaxCalibrator):
    """Min-max calibration: keeps outliers in range (sometimes better for segmentation logits)."""

    def __init__(self, calibration: CalibrationSet) -> None:
        trt.IInt8MinMaxCalibrator.__init__(self)
        self.feeder = _Feeder(calibration)


def make_calibrator(method: str, calibration: CalibrationSet) -> trt.IInt8Calibrator:
    """The calibrator for `method` (entropy | minmax)."""
    if method == "minmax":
        return MinMaxCalibrator(calibration)
    return EntropyCalibrator(calibration)
