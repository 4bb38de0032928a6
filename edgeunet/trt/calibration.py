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

    @property
    def batch_shape(self) -> Tuple[int, ...]:
        """The shape preprocess() gives one image: NCHW float or NHWC uint8, batch 1."""
        height, width = self.spec.input_size
        channels = self.spec.in_channels
        return (1, height, width, channels) if self.spec.io == "uint8" else (1, channels, height, width)

    def batches(self) -> Iterator[npt.NDArray[Any]]:
        """Each image prepared exactly as at inference (bad image files are one-line errors)."""
        from edgeunet.core.images import read_image
        from edgeunet.core.processing import preprocess

        for path in self.images:
            yield preprocess(read_image(path), self.spec)

    def manifest(self) -> Dict[str, Any]:
        return {
            "kind": "tensorrt-implicit-calibration",
            "method": self.method,
            "seed": self.seed,
            "onnx_sha256": self.onnx_sha256,
            "num_images": len(self.images),
            "images": [{"path": str(p), "sha256": sha256_bytes(p.read_bytes())} for p in self.images],
            "cache": self.cache_path.name,
        }

    def write_manifest(self) -> str:
        """Write the manifest (atomically) and return its sha256, which the engine sidecar records."""
        text = json_text(self.manifest(), sort_keys=True)
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
    folder: Path = DEFAULT_DIR,
) -> CalibrationSet:
    if method not in ("entropy", "minmax"):
        raise EdgeUnetError(f"--calibrator {method}: TensorRT's implicit calibrators are entropy and minmax")
    images = sample_images(data, num_images, seed)
    cache, manifest = cache_paths(onnx_sha256, stem, method, folder)
    return CalibrationSet(images, spec, method, cache, manifest, onnx_sha256, seed)
