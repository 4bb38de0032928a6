"""`edgeunet export --end-to-end`, and calibration / fp16 conversion of an end-to-end file.

From a checkpoint the network is exported first (export_onnx, its torch parity check included), then wrapped
(export/end_to_end.py); from an .onnx it is wrapped as it is, so a calibrated or fp16 network can be wrapped too.
Every export ends with a check against the CPU path (ONNX Runtime, `processing.preprocess` -> network ->
`processing.postprocess` vs the end-to-end graph on the same frames): the mask agreement is printed and recorded.
Calibration and fp16 of an end-to-end file live in export/end_to_end_steps.py (no torch behind them).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_END_TO_END, json_field, read_metadata, read_model, save_onnx, set_metadata
from edgeunet.core.spec import ModelSpec
from edgeunet.export.end_to_end import FRAME, FrameOptions, wrap

PRECISION_TAGS = (".fp32", ".fp16", ".int8")


@dataclass
class EndToEndResult:
    path: Path
    spec: ModelSpec
    nodes: int
    agreement: float  # mask agreement with the CPU path on `frames` frames (ONNX Runtime)
    frames: int
    frames_source: str
    network_note: str = ""  # what the checkpoint export said (parity vs torch)


def default_output(source: Path) -> Path:
    """best.pt / best.onnx -> best.e2e.onnx; best.int8.onnx -> best.e2e.int8.onnx (the precision tag stays last)."""
    stem = source.stem
    for tag in PRECISION_TAGS:
        if stem.endswith(tag):
            return source.with_name(f"{stem[: -len(tag)]}.e2e{tag}.onnx")
    return source.with_name(f"{stem}.e2e.onnx")


def _network(source: Path, workdir: Path, size: Optional[Sequence[int]], options: FrameOptions, **export_kwargs: Any) -> Tuple[Any, ModelSpec, str]:
    """(network ModelProto, its float spec, a note): the .onnx as given, or the checkpoint exported with float I/O."""
    if source.suffix.lower() == ".onnx":
        if size is not None:
            raise EdgeUnetError(f"--size: {source} is already exported; its input size is fixed (pass the checkpoint to choose it)")
        model, metadata, spec = read_model(source)
        if KEY_END_TO_END in metadata:
            raise EdgeUnetError(f"{source}: is already an end-to-end model; pass the network ONNX (or the checkpoint)")
        return model, spec, ""
    from edgeunet.export.onnx_export import export_onnx
    from edgeunet.model.checkpoint import load_checkpoint, spec_of

    net_size = size
    spec = spec_of(load_checkpoint(source), str(source))
    if spec.resize == "native" and size is None:
        from edgeunet.core.processing import native_input_size

        net_size = native_input_size(options.frame_size, spec)  # a crop-trained model sees the whole (padded) frame
    result = export_onnx(source, workdir / "network.onnx", size=net_size, io="float", **export_kwargs)
    model, _, spec = read_model(result.path)
    return model, spec, result.parity.line()


def export_end_to_end(source: Path | str, out: Optional[Path | str], options: FrameOptions, size: Optional[Sequence[int]] = None,
                      parity_data: Optional[Path] = None, check_frames: int = 2, **export_kwargs: Any) -> EndToEndResult:
    """Write the end-to-end ONNX for SOURCE (checkpoint or float-I/O ONNX) and check it against the CPU path."""
    source = Path(source)
    if not source.exists():
        raise EdgeUnetError(f"{source}: no such file; pass a checkpoint (.pt) or an ONNX written by `edgeunet export`")
    options.check()
    out = Path(out) if out is not None else default_output(source)
    if out.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"--out {out}: the file name must end in .onnx")
    with tempfile.TemporaryDirectory(prefix="edgeunet-e2e-") as tmp:
        network, spec, note = _network(source, Path(tmp), size, options, parity_data=parity_data, **export_kwargs)
        model = wrap(network, spec, options, str(source))
        frames, frames_source = check_images(parity_data, options, check_frames)
        agreement = cpu_agreement(model, network, spec, frames)
        info = json_field(read_metadata(model), KEY_END_TO_END) or {}
        info["cpu_agreement"] = {"frames": len(frames), "source": frames_source, "mask_agreement": agreement}
        set_metadata(model, {KEY_END_TO_END: info})
        save_onnx(model, out)
    e2e_spec = ModelSpec.from_json(read_metadata(model)["edgeunet.spec"], str(out))
    return EndToEndResult(out, e2e_spec, len(model.graph.node), agreement, len(frames), frames_source, note)


def check_images(folder: Optional[Path], options: FrameOptions, count: int) -> Tuple[List[np.ndarray], str]:
    """Frames for the CPU-path check, at the frame size: images from `folder` (resized), else a smooth synthetic scene."""
    import cv2

    height, width = options.frame_size
    if folder is not None:
        from edgeunet.core.images import read_image
        from edgeunet.data.dataset import find_samples

        samples = find_samples(Path(folder), require_masks=False)[:count]
        images = [read_image(s.image) for s in samples]
        images = [cv2.cvtColor(i, cv2.COLOR_GRAY2BGR) if i.ndim == 2 else i[:, :, :3] for i in images]
        return [cv2.resize(i, (width, height), interpolation=cv2.INTER_LINEAR) for i in images], str(folder)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for k in range(count):
        channels = [127 + 120 * np.sin((xx * (c + 1) + yy * (k + 2)) / 97.0 + c) for c in range(3)]
        frames.append(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))
    return frames, "synthetic frames (pass --parity-data for real ones)"


def cpu_agreement(model: Any, network: Any, spec: ModelSpec, frames: Sequence[np.ndarray]) -> float:
    """Share of mask pixels where the end-to-end graph and the CPU path (preprocess, network, postprocess) agree."""
    import onnxruntime as ort

    from edgeunet.core.processing import postprocess, preprocess

    e2e = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    net = ort.InferenceSession(network.SerializeToString(), providers=["CPUExecutionProvider"])
    net_input = net.get_inputs()[0].name
    frame_dtype = np.float32 if e2e.get_inputs()[0].type == "tensor(float)" else np.uint8
    agree = total = 0
    for frame in frames:
        mask = e2e.run(None, {FRAME: frame[None].astype(frame_dtype)})[0].reshape(frame.shape[:2])
        ref = postprocess(net.run(None, {net_input: preprocess(frame, spec)})[0], spec, frame.shape[:2])
        agree += int(np.count_nonzero(mask == ref))
        total += ref.size
    return agree / max(total, 1)
