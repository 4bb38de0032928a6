"""The INT8 result, whichever engine placed the Q/DQ: its metadata, its calibration manifest, and one write of each.

Why one module: ONNX Runtime's quantizer (export/quantize.py) and NVIDIA ModelOpt (export/modelopt_ptq.py) only hand
back a graph in memory (`Quantized`). What the file says about itself (our metadata carried over, precision int8,
target, source sha256, the calibration record) and the manifest that ties it to its source ONNX and its exact images
are made here for both, so the two engines cannot drift. `stamp` gives the in-memory graph its metadata before the
gate scores it; `write_result` runs once, after the gate and the float fallback have decided which layers stay float,
and writes the manifest, then the ONNX that records the manifest's sha256 (each atomically, each exactly once).
No torch (edge path).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.atomic import atomic_write_text, json_text, sha256_bytes, sha256_file
from edgeunet.core.onnx_model import (
    KEY_CALIBRATION,
    KEY_FLOAT_LAYERS,
    KEY_GATE,
    KEY_PRECISION,
    KEY_SOURCE_SHA,
    KEY_TARGET,
    save_onnx,
    set_metadata,
)
from edgeunet.core.version import __version__
from edgeunet.evaluate.gate import GateResult
from edgeunet.export.int8_options import Int8Job
from edgeunet.export.quantize import Quantized


@dataclass
class CalibrationResult:
    """What `quantize_and_gate` wrote; build-engine copies these into the engine sidecar."""

    onnx_path: Path
    manifest_path: Path
    manifest_sha256: str
    num_images: int
    method: str = "entropy"
    seed: int = 0
    target: str = "tensorrt"
    source_sha256: str = ""
    quantized_nodes: int = 0
    float_nodes: List[str] = field(default_factory=list)
    manifest: Dict[str, Any] = field(default_factory=dict)
    float_layers: List[str] = field(default_factory=list)  # --keep-float / --fallback auto (export.int8)
    check: Dict[str, Any] = field(default_factory=dict)  # the calibration-set check (export.calib_check)
    reports: List[Path] = field(default_factory=list)  # the sensitivity report and chart, when asked for


def _calibration_record(job: Int8Job, quantized: Quantized) -> Dict[str, Any]:
    options = job.options
    return {**quantized.calibration_fields, "method": options.method, "num_images": len(job.images), "seed": options.seed}


def stamp(job: Int8Job, quantized: Quantized) -> Any:
    """The engine's graph with our metadata (what evaluate and the gate read), before anything is decided or written."""
    model = quantized.model
    set_metadata(model, dict(job.metadata))  # the source's spec, val split, data stats...; then what changed
    set_metadata(model, {KEY_PRECISION: "int8", KEY_TARGET: job.options.target, KEY_SOURCE_SHA: job.source_sha,
                         KEY_CALIBRATION: _calibration_record(job, quantized)})
    if quantized.producer:
        model.producer_name = quantized.producer
    return model


def manifest_fields(job: Int8Job, quantized: Quantized) -> Dict[str, Any]:
    """The settings part of the manifest: the engine's own fields, then the shared ones."""
    options = job.options
    fields: Dict[str, Any] = {**{k: v for k, v in quantized.manifest_fields.items() if k in ("engine", "modelopt_version")},
                              "method": options.method}
    if options.method == "percentile":
        fields["percentile"] = options.percentile
    fields.update(seed=options.seed, target=options.target)
    fields.update({k: v for k, v in quantized.manifest_fields.items() if k not in fields})
    fields["calibration_check"] = job.check
    return fields


def calibration_manifest(
    onnx_path: Path, source_sha: str, data: Path, images: Sequence[Path], out: Path, manifest_dir: Path, **fields: Any,
) -> Tuple[Path, Dict[str, Any], str]:
    """(path, manifest, text) of a calibration manifest: an INT8 file tied to its source ONNX and its exact images.

    `fields` holds the engine's settings (engine, method, seed, target, ...) and what happened after calibration
    (float layers, fallback, sensitivity); the name carries the engine when it is not edgeunet's own.
    """
    manifest = {
        "format": "edgeunet-calibration-manifest",
        "edgeunet_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source_onnx": str(onnx_path.resolve()),
        "source_onnx_sha256": source_sha,
        "data": str(data.resolve()),
        **fields,
        "num_images": len(images),
        "images": [{"path": str(p.resolve()), "sha256": sha256_file(p)} for p in images],
    }
    tag = f"{fields['engine']}-" if fields.get("engine") else ""
    path = manifest_dir / f"{out.stem}.{source_sha[:12]}.{tag}{fields.get('method')}-seed{fields.get('seed')}.json"
    return path, manifest, json_text(manifest)


def write_result(
    job: Int8Job, quantized: Quantized, model: Any, float_layers: Sequence[str], extra: Dict[str, Any],
    gate: Optional[GateResult] = None,
) -> CalibrationResult:
    """Write the manifest, then `model` (the stamped graph with `float_layers` in float) at `job.out`: once each.

    `extra`: manifest fields decided after calibration (float_layers, fallback, sensitivity); `gate`: a passed gate,
    recorded in the model's metadata (edgeunet.gate).
    """
    fields = {**manifest_fields(job, quantized), **extra}
    path, manifest, text = calibration_manifest(job.onnx_path, job.source_sha, job.data, job.images, job.out,
                                                job.options.manifest_dir, **fields)
    manifest_sha = sha256_bytes(text.encode("utf-8"))
    values: Dict[str, Any] = {
        KEY_CALIBRATION: {**_calibration_record(job, quantized), "manifest": str(path), "manifest_sha256": manifest_sha},
        KEY_FLOAT_LAYERS: list(float_layers),
    }
    if gate is not None:
        values[KEY_GATE] = gate.to_dict()
    set_metadata(model, values)
    atomic_write_text(path, text)
    save_onnx(model, job.out)
    return CalibrationResult(
        onnx_path=job.out, manifest_path=path, manifest_sha256=manifest_sha, num_images=len(job.images), method=job.options.method,
        seed=job.options.seed, target=job.options.target, source_sha256=job.source_sha, quantized_nodes=count_quantized(model),
        float_nodes=list(quantized.float_nodes), manifest=manifest, float_layers=list(float_layers), check=job.check,
    )


def count_quantized(model: Any) -> int:
    """Quantized tensors: QuantizeLinear nodes (Q/DQ graphs) and QLinear* ops (ONNX Runtime's CPU graph)."""
    return sum(1 for n in model.graph.node if n.op_type == "QuantizeLinear" or n.op_type.startswith("QLinear"))
