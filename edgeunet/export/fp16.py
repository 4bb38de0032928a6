"""FP16: an fp16-typed ONNX (weights and activations) with the I/O types unchanged, then the accuracy gate.

onnxconverter-common's float16 converter does the conversion (a maintained library); what we add is the fix-up of
the converter's one blind spot (`_fix_casts_to_float`) and a load check before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Set, Tuple

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.onnx_model import KEY_PRECISION, KEY_SOURCE_SHA, read_spec, save_onnx, set_metadata
from edgeunet.data.dataset import Sample
from edgeunet.evaluate.class_gate import class_drop_limit
from edgeunet.evaluate.gate import GateResult, accuracy_gate, check_max_drop, validation_samples
from edgeunet.export.end_to_end_steps import is_end_to_end_file
from edgeunet.export.quantize import check_source, same_file


def convert_fp16(onnx_path: Path, out: Path) -> Path:
    """fp32 ONNX -> fp16-typed ONNX (weights and activations), I/O types unchanged.

    Keeping I/O types means the same preprocess feeds every precision; TensorRT 11 builds FP16
    from this graph (it has no FP16 flag). On CPU, ONNX Runtime computes much of it in fp32, so the
    gate here checks weight rounding, not fp16 activation range (docs/TENSORRT.md).
    """
    onnx_path, out = Path(onnx_path), Path(out)
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx (e.g. model.fp16.onnx)")
    if out.exists() and same_file(onnx_path, out):
        raise EdgeUnetError(f"--out {out}: would overwrite the fp32 model; choose another name (e.g. model.fp16.onnx)")
    model, metadata, _ = check_source(onnx_path, "fp16 conversion")
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise MissingDependencyError("fp16 conversion needs onnxconverter-common: pip install onnxconverter-common") from None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "values truncated to fp16 range" is expected for tiny weights
        original_casts = {node.name for node in model.graph.node if node.op_type == "Cast"}
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    _fix_casts_to_float(half, original_casts)
    _check_loads(half, out)
    set_metadata(half, dict(metadata))
    set_metadata(half, {KEY_PRECISION: "fp16", KEY_SOURCE_SHA: sha256_file(onnx_path)})
    return save_onnx(half, out)


def _fix_casts_to_float(model: Any, original_casts: Set[str]) -> None:
    """The converter retypes a `Cast(to=float)` output to fp16 but leaves `to` alone (the uint8 -> float
    Cast at the start of an --io uint8 graph); make the attribute agree with the declared type.
    Only the graph's own Casts: those the converter inserts at the I/O boundary are right as they are."""
    from onnx import TensorProto

    fp16_values = {v.name for v in model.graph.value_info if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.name in original_casts and node.output[0] in fp16_values:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16


def _check_loads(model: Any, where: Path) -> None:
    """A converted graph must load in ONNX Runtime before it is written (a converter bug is ours, not the user's)."""
    import onnxruntime as ort

    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any load failure means the conversion is broken
        raise RuntimeError(f"converted graph for {where} does not load in ONNX Runtime: {exc}") from exc


def convert_and_gate(
    onnx_path: Path, out: Path, val_data: Optional[Path] = None, max_drop: float = 0.01, gate: bool = True,
    max_class_drop: Optional[float] = None,
) -> Tuple[Path, Optional[GateResult]]:
    """convert_fp16 + accuracy_gate, the way `edgeunet convert --fp16` runs them (an end-to-end file: its network only)."""
    if is_end_to_end_file(onnx_path):
        from edgeunet.export.end_to_end_steps import rewrapped

        def step(net: Path, net_out: Path) -> Tuple[Path, Optional[GateResult]]:
            return convert_and_gate(net, net_out, val_data, max_drop, gate, max_class_drop)

        _, result = rewrapped(onnx_path, out, step, lambda done: done[0])
        return Path(out), result
    check_max_drop(max_drop)
    class_drop_limit(max_drop, max_class_drop)
    samples: Optional[List[Sample]] = None
    source = ""
    if gate:
        read_spec(onnx_path)
        samples, source = validation_samples(Path(onnx_path), val_data)
    path = convert_fp16(onnx_path, out)
    if not gate or samples is None:
        return path, None
    result = accuracy_gate(onnx_path, path, val_data=val_data, max_drop=max_drop, samples=samples, max_class_drop=max_class_drop)
    result.val_source = source
    return path, result
