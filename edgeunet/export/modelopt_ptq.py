"""A second opinion on INT8 post-training quantization: NVIDIA ModelOpt's ONNX PTQ on the same fp32 ONNX and images.

Why: `calibrate` (quantize.py) places Q/DQ with ONNX Runtime's quantizer and our TensorRT settings; ModelOpt's
`modelopt.onnx.quantization.quantize` is NVIDIA's own, TensorRT-oriented placement (its heuristics leave some
convolutions float and quantize ConvTranspose weights on axis 1). Running both on one source, one calibration set
and one gate shows whether our placement leaves accuracy or Q/DQ pairs on the table (`bench --precisions
int8,int8-modelopt`, `count_qdq` in inspect.py).

Same inputs as `calibrate`: the images come from `data.splits.sample_images` (same seed, same exclusions) and are
prepared by `core.processing.preprocess`, the function inference uses, stacked into the one numpy array ModelOpt
takes. Same outputs: our metadata (spec, val split, ...) carried over, precision int8, target tensorrt, a
calibration manifest, an atomic write.

Settings: calibration on ONNX Runtime's CPU provider (`calibration_eps=["cpu"]`), and the parts ModelOpt leaves
un-quantized stay fp32 (`high_precision_dtype="fp32"`, its default is fp16) so the comparison with `calibrate`
differs in INT8 placement and ranges only. ModelOpt's ONNX package imports torch (modelopt/onnx/quantization/
qdq_utils.py), so this path needs the `train` and `qat` extras; it is imported lazily and never on the edge path.

Measured limits (0.47.0): the output is opset 19 whatever `opset=` says ("Opset 17 is below the minimum opset 19
required for int8 quantization. Upgrading to opset 19."), which TensorRT 8.5/8.6 (JetPack 5) cannot parse, and
ConvTranspose weights get per-channel scales on axis 1, which NVIDIA/TensorRT#2380 says TensorRT's deconvolution
kernels do not support. Both are reported by `edgeunet inspect --trt VERSION`; neither is changed here, since the point
is ModelOpt's own opinion.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

import numpy as np

from edgeunet.core.atomic import atomic_write_text, ensure_writable_dir, sha256_file
from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.images import read_image
from edgeunet.core.onnx_model import KEY_CALIBRATION, KEY_PRECISION, KEY_SOURCE_SHA, KEY_TARGET, load_onnx, save_onnx, set_metadata
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.data.splits import sample_images
from edgeunet.export.quantize import CalibrationResult, calibration_manifest, check_source, same_file

INSTALL_HINT = "pip install 'edgeunet[train,qat]' (nvidia-modelopt, huggingface_hub, onnx-graphsurgeon, polygraphy, onnxscript, lief, cppimport)"
# edgeunet's method names -> ModelOpt's (it has no percentile calibration for INT8)
METHODS = {"entropy": "entropy", "minmax": "max"}


def require_modelopt_onnx() -> Any:
    """`modelopt.onnx.quantization`, or a one-line error that names the missing module and the install step."""
    try:
        with _quiet():
            from modelopt.onnx import quantization
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc).splitlines()[0]
        raise MissingDependencyError(f"--engine modelopt needs NVIDIA ModelOpt's ONNX tools ({missing} is missing): {INSTALL_HINT}") from None
    return quantization


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ModelOpt logs at INFO (and 'Failed to get GPU count' at ERROR on a CPU machine); the CLI prints its own summary."""
    logger = logging.getLogger("modelopt")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def calibration_array(images: Sequence[Path], spec: ModelSpec) -> np.ndarray:
    """N x C x H x W float32: each image through `preprocess`, exactly what `calibrate`'s reader feeds ONNX Runtime."""
    return np.ascontiguousarray(np.concatenate([preprocess(read_image(path), spec) for path in images], axis=0))


def modelopt_calibrate(
    onnx_path: Path,
    data: Path,
    out: Path,
    num_images: int = 64,
    method: str = "entropy",
    seed: int = 0,
    manifest_dir: Path = Path("calibration"),
    exclude: Sequence[Path] = (),
    images: Optional[Sequence[Path]] = None,
    manifest_extra: Optional[Dict[str, Any]] = None,
) -> CalibrationResult:
    """fp32 ONNX + calibration images -> ModelOpt's INT8 Q/DQ ONNX at `out` (with our metadata) and a manifest.

    `images`: exactly these (already sampled and checked by export.int8) instead of sampling; `manifest_extra`: more
    manifest fields (the calibration-set check), as for `quantize.calibrate`.
    """
    onnx_path, data, out, manifest_dir = Path(onnx_path), Path(data), Path(out), Path(manifest_dir)
    if method not in METHODS:
        raise EdgeUnetError(f"--method {method} with --engine modelopt: choose {' or '.join(METHODS)} (ModelOpt has no percentile)")
    if num_images < 1:
        raise EdgeUnetError(f"--num-images {num_images}: must be at least 1")
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx (e.g. model.int8-modelopt.onnx)")
    if out.exists() and same_file(onnx_path, out):
        raise EdgeUnetError(f"--out {out}: would overwrite the fp32 model; choose another name")
    model, metadata, spec = check_source(onnx_path, "calibrate")
    if spec.io != "float":
        raise EdgeUnetError(f"{onnx_path}: --engine modelopt calibrates float-I/O models; export without --io uint8")
    moq = require_modelopt_onnx()
    images = list(images) if images is not None else sample_images(data, num_images, seed, exclude)
    ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    ensure_writable_dir(manifest_dir, "calibration folder")
    source_sha = sha256_file(onnx_path)
    calib = calibration_array(images, spec)
    with tempfile.TemporaryDirectory(prefix=".edgeunet-modelopt-", dir=str(out.parent) if str(out.parent) else ".") as tmp_name:
        tmp = Path(tmp_name)
        source = shutil.copyfile(onnx_path, tmp / "source.onnx")  # ModelOpt writes intermediate files next to its input
        quantized = tmp / "quantized.onnx"
        try:
            with _quiet():
                moq.quantize(str(source), quantize_mode="int8", calibration_data=calib, calibration_method=METHODS[method],
                             calibration_eps=["cpu"], output_path=str(quantized), high_precision_dtype="fp32", log_level="CRITICAL")
        except Exception as exc:  # noqa: BLE001 - a third-party failure on a user's model: one line with its reason
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise EdgeUnetError(f"{onnx_path}: ModelOpt ONNX PTQ failed ({type(exc).__name__}: {first}); use the default --engine edgeunet") from None
        qmodel = load_onnx(quantized)
        import modelopt

        version = str(getattr(modelopt, "__version__", "?"))
        manifest_path, manifest, manifest_text, manifest_sha = calibration_manifest(
            onnx_path, source_sha, data, images, out, manifest_dir, engine="modelopt", modelopt_version=version, method=method,
            seed=seed, target="tensorrt", **(manifest_extra or {}),
        )
        set_metadata(qmodel, dict(metadata))
        set_metadata(qmodel, {
            KEY_PRECISION: "int8", KEY_TARGET: "tensorrt", KEY_SOURCE_SHA: source_sha,
            KEY_CALIBRATION: {"engine": f"modelopt {version}", "manifest": str(manifest_path), "manifest_sha256": manifest_sha,
                              "method": method, "num_images": len(images), "seed": seed},
        })
        qmodel.producer_name = "edgeunet (NVIDIA ModelOpt ONNX PTQ)"
        atomic_write_text(manifest_path, manifest_text)
        save_onnx(qmodel, out)
    quantized_nodes = sum(1 for n in qmodel.graph.node if n.op_type == "QuantizeLinear")
    float_nodes = [n.name for n in qmodel.graph.node if n.op_type in ("Conv", "ConvTranspose") and not _has_dq_input(qmodel, n)]
    return CalibrationResult(
        onnx_path=out, manifest_path=manifest_path, manifest_sha256=manifest_sha, num_images=len(images), method=method, seed=seed,
        target="tensorrt", source_sha256=source_sha, quantized_nodes=quantized_nodes, float_nodes=float_nodes, manifest=manifest,
    )


def _has_dq_input(model: Any, node: Any) -> bool:
    dequantized = {out for n in model.graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    return bool(node.input) and node.input[0] in dequantized
