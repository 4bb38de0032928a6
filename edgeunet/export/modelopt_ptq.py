"""A second opinion on INT8 post-training quantization: NVIDIA ModelOpt's ONNX PTQ on the same fp32 ONNX and images.

Why: `calibrate` (quantize.py) places Q/DQ with ONNX Runtime's quantizer and our TensorRT settings; ModelOpt's
`modelopt.onnx.quantization.quantize` is NVIDIA's own, TensorRT-oriented placement (its heuristics leave some
convolutions float and quantize ConvTranspose weights on axis 1). Running both on one source, one calibration set
and one gate shows whether our placement leaves accuracy or Q/DQ pairs on the table (`bench --precisions
int8,int8-modelopt`, `count_qdq` in inspect.py).

Same path as `calibrate`: `export.int8.quantize_and_gate` checks the arguments, samples and checks the images and,
after this module has placed the Q/DQ nodes in memory (`modelopt_quantize`), gates the result and writes it with the
same metadata and manifest (export/int8_result.py). Here the images are prepared by `core.processing.preprocess`, the
function inference uses, stacked into the one numpy array ModelOpt takes.

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
from typing import Any, Iterator, Sequence

import numpy as np

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.images import read_image
from edgeunet.core.onnx_model import load_onnx
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.export.quantize import Quantized

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


@contextlib.contextmanager
def _ort_restored() -> Iterator[None]:
    """ONNX Runtime's quantizer as it was before ModelOpt ran.

    ModelOpt replaces methods of ONNX Runtime's calibrators and quantizers in place (modelopt/onnx/quantization/
    ort_patching.py, `patch_ort_modules`) and never puts them back; our own calibration in the same process (bench's
    `int8` row after `int8-modelopt`, `benchmarks/modelopt_ptq.py --also-edgeunet`) then failed with "Quantization
    parameters are not specified for param input". Every attribute of the patched classes is restored on the way out.
    """
    from onnxruntime.quantization import base_quantizer, calibrate, qdq_quantizer

    owners = (calibrate.CalibraterBase, calibrate.MinMaxCalibrater, calibrate.HistogramCalibrater, calibrate.HistogramCollector,
              base_quantizer.BaseQuantizer, qdq_quantizer.QDQQuantizer)
    saved = [(owner, dict(vars(owner))) for owner in owners]
    create_calibrator = calibrate.create_calibrator
    try:
        yield
    finally:
        calibrate.create_calibrator = create_calibrator
        for owner, attrs in saved:
            for name in set(vars(owner)) - set(attrs):
                delattr(owner, name)
            for name, value in attrs.items():
                if vars(owner).get(name) is not value:
                    setattr(owner, name, value)


def calibration_array(images: Sequence[Path], spec: ModelSpec) -> np.ndarray:
    """N x C x H x W float32: each image through `preprocess`, exactly what `calibrate`'s reader feeds ONNX Runtime."""
    return np.ascontiguousarray(np.concatenate([preprocess(read_image(path), spec) for path in images], axis=0))


def modelopt_quantize(onnx_path: Path, images: Sequence[Path], spec: ModelSpec, method: str = "entropy",
                      workdir: Path = Path(".")) -> Quantized:
    """fp32 ONNX + calibration images -> ModelOpt's INT8 Q/DQ graph, in memory (nothing is written).

    Arguments are checked by `export.int8_options` (through `export.int8.quantize_and_gate`, the one INT8 path);
    ModelOpt writes intermediate files next to its input, so it works on a copy inside a temporary folder in `workdir`.
    """
    moq = require_modelopt_onnx()
    calib = calibration_array(images, spec)
    with tempfile.TemporaryDirectory(prefix=".edgeunet-modelopt-", dir=str(workdir)) as tmp_name:
        tmp = Path(tmp_name)
        source = shutil.copyfile(onnx_path, tmp / "source.onnx")
        quantized = tmp / "quantized.onnx"
        try:
            with _quiet(), _ort_restored():
                moq.quantize(str(source), quantize_mode="int8", calibration_data=calib, calibration_method=METHODS[method],
                             calibration_eps=["cpu"], output_path=str(quantized), high_precision_dtype="fp32", log_level="CRITICAL")
        except Exception as exc:  # noqa: BLE001 - a third-party failure on a user's model: one line with its reason
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise EdgeUnetError(f"{onnx_path}: ModelOpt ONNX PTQ failed ({type(exc).__name__}: {first}); use the default --engine edgeunet") from None
        qmodel = load_onnx(quantized)
    import modelopt

    version = str(getattr(modelopt, "__version__", "?"))
    float_nodes = [n.name for n in qmodel.graph.node if n.op_type in ("Conv", "ConvTranspose") and not _has_dq_input(qmodel, n)]
    return Quantized(qmodel, float_nodes, manifest_fields={"engine": "modelopt", "modelopt_version": version},
                     calibration_fields={"engine": f"modelopt {version}"}, producer="edgeunet (NVIDIA ModelOpt ONNX PTQ)")


def _has_dq_input(model: Any, node: Any) -> bool:
    dequantized = {out for n in model.graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    return bool(node.input) and node.input[0] in dequantized
