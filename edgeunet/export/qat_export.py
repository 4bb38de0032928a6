"""After `edgeunet train --qat`: the INT8 Q/DQ ONNX of the fine-tuned checkpoint, gated against its fp32 source.

Why train --qat writes the ONNX itself (and `edgeunet export` can write it again, e.g. at another --size): a QAT
run exists to produce a deployable INT8 model, so, like `calibrate`, it ends with that file and its accuracy
gate; a user never has to know that the checkpoint needs a special export. The gate is the one every INT8 file
goes through (evaluate/gate.py): the fp32 source checkpoint is exported to RUN/source.fp32.onnx (kept, so the
comparison can be repeated and benchmarked) and both are scored on the source run's validation images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.evaluate.gate import GateResult, accuracy_gate, check_max_drop, validation_samples
from edgeunet.export.onnx_export import ExportResult, export_onnx

REFERENCE_NAME = "source.fp32.onnx"


def export_and_gate_qat(
    checkpoint: Path, max_drop: float = 0.01, val_data: Optional[Path] = None, gate: bool = True,
) -> Tuple[ExportResult, Optional[GateResult]]:
    """RUN/best.pt of a QAT run -> RUN/best.int8.onnx, then the accuracy gate against RUN/source.fp32.onnx."""
    from edgeunet.model.checkpoint import load_checkpoint

    check_max_drop(max_drop)
    checkpoint = Path(checkpoint)
    payload = load_checkpoint(checkpoint)
    if not payload.get("qat"):
        raise EdgeUnetError(f"{checkpoint}: not a QAT checkpoint; export it with `edgeunet export` and calibrate the ONNX")
    recorded = str(payload["qat"].get("source") or "")
    source = Path(recorded)
    if gate and not (recorded and source.is_file()):  # before the export: no ungated best.int8.onnx beside an error
        raise EdgeUnetError(f"{checkpoint}: its fp32 source {recorded or '(unrecorded)'} is gone, so the accuracy gate has no "
                            f"reference; restore that file, or run `edgeunet export {checkpoint}` for the INT8 ONNX without the gate")
    result = export_onnx(checkpoint, parity_images=2)
    if not gate:
        return result, None
    reference = export_onnx(source, checkpoint.parent / REFERENCE_NAME, size=result.spec.input_size, parity_images=1).path
    samples, described = validation_samples(reference, val_data)
    outcome = accuracy_gate(reference, result.path, val_data=val_data, max_drop=max_drop, samples=samples)
    outcome.val_source = described
    return result, outcome
