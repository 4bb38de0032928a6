"""Layer sensitivity of an INT8 Q/DQ graph: what each quantized layer costs, measured with ONNX Runtime on the CPU.

For every quantized layer (Conv/ConvTranspose/MatMul/Gemm with Q/DQ): the metric (mIoU for multi-class models,
Dice for binary ones) when ONLY that layer is left in float and all others stay quantized, the drop against fp32
(optionally also with only that layer quantized), and the output SQNR (dB) of the layer in the fully quantized
graph against the float graph. The layer whose float copy recovers most is the one `--fallback auto` frees first.

Why variants by graph surgery (qdq_layers.keep_float), not by recalibration: every other layer keeps exactly the
scales the shipped model has, so the difference is the layer's own. `VariantScorer` caches each evaluated set of
float layers, so the fallback's greedy search re-uses what sensitivity already measured. No torch (edge path).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence

import numpy as np

from edgeunet.core.images import read_image
from edgeunet.core.onnx_model import input_info, save_onnx
from edgeunet.core.processing import preprocess
from edgeunet.core.spec import ModelSpec
from edgeunet.data.dataset import Sample
from edgeunet.evaluate.evaluate import evaluate
from edgeunet.export.qdq_layers import keep_float, layer_outputs, quantized_layers, strip_qdq, with_outputs

# Sensitivity is a ranking, not a verdict (the gate decides on all validation images): 32 images rank layers the
# same way as hundreds (their order is set by the large differences) at a fraction of the CPU time.
SENSITIVITY_IMAGES = 32
# SQNR needs far fewer: a per-tensor energy ratio is stable after a few frames.
SQNR_IMAGES = 4


class VariantScorer:
    """Scores of the INT8 graph with a given set of layers in float, on fixed samples; each set evaluated once."""

    def __init__(self, qmodel: Any, reference: Path, samples: Sequence[Sample], workdir: Optional[Path] = None) -> None:
        self.qmodel = qmodel
        self.reference_path = Path(reference)
        self.samples = list(samples)
        self._tmp = tempfile.TemporaryDirectory(prefix=".edgeunet-variants-", dir=str(workdir) if workdir else None)
        self._cache: Dict[FrozenSet[str], Dict[str, Any]] = {}
        self._reference: Optional[Dict[str, Any]] = None
        self.evaluations = 0

    def close(self) -> None:
        self._tmp.cleanup()

    def _evaluate(self, path: Path) -> Dict[str, Any]:
        self.evaluations += 1
        return evaluate(path, ".", backend="onnxruntime", device="cpu", samples=self.samples)

    def reference(self) -> Dict[str, Any]:
        if self._reference is None:
            self._reference = self._evaluate(self.reference_path)
        return self._reference

    def model(self, float_layers: Iterable[str]) -> Any:
        return keep_float(self.qmodel, float_layers)

    def scores(self, float_layers: Iterable[str]) -> Dict[str, Any]:
        key = frozenset(float_layers)
        if key not in self._cache:
            path = Path(self._tmp.name) / f"variant-{len(self._cache)}.onnx"
            save_onnx(self.model(key), path, check=False)
            self._cache[key] = self._evaluate(path)
            path.unlink()
        return self._cache[key]


@dataclass
class LayerSensitivity:
    name: str
    op: str
    metric_float: float  # the metric with only this layer in float
    drop_float: float  # fp32 metric - metric_float
    recovered: float  # (fp32 - int8) - drop_float: how much of the INT8 loss this layer alone accounts for
    sqnr_db: float  # this layer's output in the fully quantized graph vs the float graph
    metric_alone: Optional[float] = None  # only this layer quantized (optional, costs as much again)
    drop_alone: Optional[float] = None


@dataclass
class SensitivityResult:
    metric: str  # dice | miou
    reference: float  # fp32
    quantized: float  # all layers quantized
    images: int
    layers: List[LayerSensitivity] = field(default_factory=list)  # worst first (largest recovered)

    def order(self) -> List[str]:
        return [layer.name for layer in self.layers]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _sqnr(qmodel: Any, spec: ModelSpec, names: Sequence[str], samples: Sequence[Sample]) -> Dict[str, float]:
    """Output SQNR (dB) per layer: 10 log10(sum ref^2 / sum (ref - q)^2), the float graph from the same Q/DQ file."""
    import onnxruntime as ort

    outputs = layer_outputs(qmodel, names)
    tensors = list(outputs.values())
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
    options.log_severity_level = 3
    sessions = [ort.InferenceSession(with_outputs(m, tensors).SerializeToString(), options, providers=["CPUExecutionProvider"])
                for m in (strip_qdq(qmodel), qmodel)]
    input_name = input_info(qmodel)[0]
    signal = dict.fromkeys(tensors, 0.0)
    noise = dict.fromkeys(tensors, 0.0)
    for sample in samples:
        batch = preprocess(read_image(sample.image), spec)
        ref, quant = (session.run(tensors, {input_name: batch}) for session in sessions)
        for name, r, q in zip(tensors, ref, quant):
            signal[name] += float(np.square(r, dtype=np.float64).sum())
            noise[name] += float(np.square(r.astype(np.float64) - q).sum())
    return {layer: (10 * math.log10(signal[t] / noise[t]) if noise[t] > 0 and signal[t] > 0 else float("inf"))
            for layer, t in outputs.items()}


def layer_sensitivity(scorer: VariantScorer, spec: ModelSpec, alone: bool = False, progress: bool = True) -> SensitivityResult:
    """Every quantized layer of `scorer.qmodel` in float on its own (and, with `alone`, quantized on its own)."""
    from tqdm import tqdm

    metric = "dice" if spec.is_binary else "miou"
    layers = quantized_layers(scorer.qmodel)
    ops = {node.name: node.op_type for node in scorer.qmodel.graph.node}
    reference = float(scorer.reference()[metric])
    quantized = float(scorer.scores([])[metric])
    sqnr = _sqnr(scorer.qmodel, spec, layers, scorer.samples[:SQNR_IMAGES])
    result = SensitivityResult(metric=metric, reference=reference, quantized=quantized, images=len(scorer.samples))
    for name in tqdm(layers, desc="layer sensitivity", unit="layer", leave=False, disable=None if progress else True):
        value = float(scorer.scores([name])[metric])
        entry = LayerSensitivity(name=name, op=ops.get(name, ""), metric_float=value, drop_float=reference - value,
                                 recovered=value - quantized, sqnr_db=sqnr.get(name, float("nan")))
        if alone:
            alone_value = float(scorer.scores([other for other in layers if other != name])[metric])
            entry.metric_alone, entry.drop_alone = alone_value, reference - alone_value
        result.layers.append(entry)
    result.layers.sort(key=lambda e: (-e.recovered, e.sqnr_db))
    return result
