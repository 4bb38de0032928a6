"""Implicit (TensorRT-side) INT8 calibration: the parts that need no TensorRT.

Why this route exists at all: explicit Q/DQ (`edgeunet calibrate`) is the default and the only way on TensorRT 11,
but DLA INT8 on TensorRT 8.x (JetPack 5) needs a TensorRT calibration cache made by IInt8EntropyCalibrator2.
The images are chosen with a seed by the same sampler as Q/DQ calibration (`edgeunet.data.splits`) and prepared
by `edgeunet.core.processing.preprocess`, the very function inference uses, and every cache gets a manifest
(which images, their hashes, the ONNX it belongs to) under `calibration/`, because a cache is only valid for the same network and settings.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

from edgeunet.core.atomic import atomic_write_text, json_text, sha256_bytes
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.splits import sample_images

if TYPE_CHECKING:
    import numpy.typing as npt

DEFAULT_DIR = Path("calibration")


def cache_paths(onnx_sha256: str, stem: str, method: str, folder: Path = DEFAULT_DIR) -> Tuple[Path, Path]:
    """(cache, manifest) file names keyed by the ONNX hash: a cache never gets reused for a different network."""
    base = f"{stem}-{onnx_sha256[:12]}.trt-{method}"
    return folder / f"{base}.cache", folder / f"{base}.json"


def parse_calibration_cache(text: str, source: str = "calibration cache") -> Dict[str, float]:
    """TensorRT's cache text -> {tensor name: scale}. Header line, then `name: <8 hex digits of a big-endian float32>`."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("TRT-"):
        raise EdgeUnetError(f"{source}: not a TensorRT calibration cache (no TRT- header); delete it to recalibrate")
    scales: Dict[str, float] = {}
    for line in lines[1:]:
        name, sep, value = line.rpartition(":")
        value = value.strip()
        if not sep or len(value) != 8:
            raise EdgeUnetError(f"{source}: malformed line {line!r}; delete the cache to recalibrate")
        try:
            scales[name.strip()] = struct.unpack(">f", bytes.fromhex(value))[0]
        except ValueError:
            raise EdgeUnetError(f"{source}: malformed scale in {line!r}; delete the cache to recalibrate") from None
    return scales


@dataclass
class CalibrationSet:
    """Images, how to prepare them, and where the TensorRT cache and its manifest go."""

    images: List[Path]
    spec: ModelSpec
    method: str  # entropy | minmax
    cache_path: Path
    manifest_path: Path
    onnx_sha256: str
    seed: int = 0
    batch_size: int = 1  # a static batch-N ONNX is calibrated with whole batches of N images
    tensorrt_version: str = ""  # a cache is TensorRT's own format: one from 8.5 must not be reused on 10.3

    def __post_init__(self) -> None:
        if self.batch_size < 1 or len(self.images) < self.batch_size:
            raise EdgeUnetError(
                f"calibration needs at least {self.batch_size} image(s) (the model's fixed batch), found {len(self.images)}; "
                "add calibration images or export the model with --dynamic"
            )

    @property
    def batch_shape(self) -> Tuple[int, ...]:
        """The shape of one calibration batch: NCHW float or NHWC uint8, as preprocess() gives them, stacked."""
        height, width = self.spec.input_size
        channels = self.spec.in_channels
        n = self.batch_size
        return (n, height, width, channels) if self.spec.io == "uint8" else (n, channels, height, width)

    @property
    def num_batches(self) -> int:
        """Whole batches only: TensorRT reads a full batch behind every pointer (a partial last one is left out)."""
        return len(self.images) // self.batch_size

    def batches(self) -> Iterator[npt.NDArray[Any]]:
        """Batches of images prepared exactly as at inference; an unreadable image is a one-line error naming it."""
        import numpy as np

        from edgeunet.core.images import read_image
        from edgeunet.core.processing import preprocess

        for start in range(0, self.num_batches * self.batch_size, self.batch_size):
            group = self.images[start:start + self.batch_size]
            yield np.concatenate([preprocess(read_image(path), self.spec) for path in group], axis=0)

    def manifest(self) -> Dict[str, Any]:
        return {
            "kind": "tensorrt-implicit-calibration",
            "method": self.method,
            "seed": self.seed,
            "onnx_sha256": self.onnx_sha256,
            "num_images": len(self.images),
            "batch_size": self.batch_size,
            "tensorrt_version": self.tensorrt_version,
            "images": [{"path": str(p), "sha256": sha256_bytes(p.read_bytes())} for p in self.images],
            "cache": self.cache_path.name,
        }

    def manifest_text(self) -> str:
        return json_text(self.manifest(), sort_keys=True)

    def manifest_sha256(self) -> str:
        """What the engine sidecar records; the same text `write_manifest` writes."""
        return sha256_bytes(self.manifest_text().encode("utf-8"))

    def write_manifest(self) -> str:
        """Write the manifest (atomically) beside the cache TensorRT just wrote, and return its sha256.

        Only ever after a cache is written: a manifest written before the build would make `read_cache` accept
        an old cache made from other images, --num-images or --seed.
        """
        text = self.manifest_text()
        atomic_write_text(self.manifest_path, text)
        return sha256_bytes(text.encode("utf-8"))

    def read_cache(self) -> Optional[bytes]:
        """A cache written for this very manifest, else None (TensorRT then calibrates from the images)."""
        if not (self.cache_path.is_file() and self.manifest_path.is_file()):
            return None
        try:
            previous = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            return None
        if previous != self.manifest():
            return None
        data = self.cache_path.read_bytes()
        parse_calibration_cache(data.decode("utf-8", errors="replace"), str(self.cache_path))
        return data


def make_calibration_set(
    data: Path, spec: ModelSpec, onnx_sha256: str, stem: str, method: str, num_images: int = 64, seed: int = 0,
    folder: Path = DEFAULT_DIR, batch_size: int = 1, tensorrt_version: str = "",
) -> CalibrationSet:
    """The calibration set; `tensorrt_version` goes into the manifest, so a JetPack upgrade recalibrates."""
    if method not in ("entropy", "minmax"):
        raise EdgeUnetError(f"--calibrator {method}: TensorRT's implicit calibrators are entropy and minmax")
    images = sample_images(data, num_images, seed)
    cache, manifest = cache_paths(onnx_sha256, stem, method, folder)
    return CalibrationSet(images, spec, method, cache, manifest, onnx_sha256, seed, batch_size, tensorrt_version)
