"""TensorRT implicit INT8 calibrators (entropy 2 / min-max) that read images via `CalibrationSet`.

Imports tensorrt at module level because the classes subclass TensorRT's pybind trampolines; the module is only
imported from inside `build.build_engine`, after TensorRT was found. Only on TensorRT 8.5-10.x (the classes are
gone in 11, and `plan_build` refuses the route there with a clear error).

The pybind bindings call: get_batch_size(), get_batch(names) -> [device pointers] or [] when done,
read_calibration_cache() -> bytes or None (None = calibrate from images), write_calibration_cache(buffer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Union

import tensorrt as trt

from edgeunet.core.atomic import atomic_write_bytes
from edgeunet.core.errors import EdgeUnetError
from edgeunet.trt.calibration import CalibrationSet
from edgeunet.trt.cuda import CudaSession, DeviceBuffer

if TYPE_CHECKING:
    import numpy.typing as npt


class _Feeder:
    """Shared state of both calibrators: the batch iterator, one device buffer, the cache file, what went wrong.

    Why it records errors: TensorRT's Python trampoline (8.4+) catches any exception raised in these callbacks,
    prints it and reads it as "no more data" (or "no cache"), so an unreadable image would silently end
    calibration early and TensorRT would compute and cache scales from a partial set. The feeder keeps the first
    exception and `raise_if_failed` raises it after the build returns.
    """

    def __init__(self, calibration: CalibrationSet) -> None:
        self.calibration = calibration
        self.session = CudaSession()
        self._batches: Iterator[npt.NDArray[Any]] = calibration.batches()
        self._device: Optional[DeviceBuffer] = None
        self.fed = 0
        self.used_cache = False
        self.error: Optional[BaseException] = None

    def next_pointers(self, names: List[str]) -> List[int]:
        try:
            batch = next(self._batches, None)
            if batch is None:
                return []  # no more data: TensorRT computes the scales
            if self._device is None or self._device.nbytes < batch.nbytes:
                if self._device is not None:
                    self._device.free()
                self._device = self.session.alloc(batch.nbytes)
            self.session.copy_to_device(self._device, batch)
        except BaseException as exc:
            self.error = self.error or exc
            raise
        self.fed += 1
        return [self._device.ptr for _ in names]  # edgeunet graphs have one input

    def read_cache(self) -> Optional[bytes]:
        try:
            cache = self.calibration.read_cache()
        except BaseException as exc:
            self.error = self.error or exc
            raise
        self.used_cache = cache is not None
        return cache

    def write_cache(self, cache: Any) -> None:
        try:
            atomic_write_bytes(self.calibration.cache_path, bytes(memoryview(cache)))
            self.calibration.write_manifest()
        except BaseException as exc:
            self.error = self.error or exc
            raise

    def raise_if_failed(self) -> None:
        """After the build: the callback error TensorRT swallowed, or a calibration that fed fewer batches than planned."""
        if self.error is not None:
            detail = str(self.error) if isinstance(self.error, EdgeUnetError) else f"{type(self.error).__name__}: {self.error}"
            raise EdgeUnetError(f"INT8 calibration failed, the engine was not written: {detail}")
        expected = self.calibration.num_batches
        if not self.used_cache and self.fed != expected:
            raise EdgeUnetError(
                f"INT8 calibration stopped after {self.fed} of {expected} batches (see TensorRT's log above); the engine was not written"
            )

    def close(self) -> None:
        """Free the device buffer now, not whenever the calibrator object is collected."""
        if self._device is not None:
            self._device.free()
            self._device = None


class _FeederMethods:
    """What both calibrators answer, from the same feeder (a plain mixin: the pybind trampolines find these by name)."""

    feeder: _Feeder

    def get_batch_size(self) -> int:
        return self.feeder.calibration.batch_size

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


def make_calibrator(method: str, calibration: CalibrationSet) -> Union[EntropyCalibrator, MinMaxCalibrator]:
    """The calibrator for `method` (entropy | minmax)."""
    if method == "minmax":
        return MinMaxCalibrator(calibration)
    return EntropyCalibrator(calibration)
