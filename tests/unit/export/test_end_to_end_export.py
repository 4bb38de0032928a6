"""export --end-to-end's helpers: output names, check frames, the CPU-path agreement, re-wrapping a transformed network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import read_model, save_onnx
from edgeunet.export.end_to_end import FrameOptions, wrap
from edgeunet.export.end_to_end_export import (
    check_images,
    cpu_agreement,
    default_output,
    export_end_to_end,
    is_end_to_end_file,
    rewrapped,
)
from tests.unit.export.test_end_to_end import network, rgb_spec


@pytest.mark.parametrize("name,expected", [("best.pt", "best.e2e.onnx"), ("best.onnx", "best.e2e.onnx"),
                                           ("best.int8.onnx", "best.e2e.int8.onnx"), ("m.fp16.onnx", "m.e2e.fp16.onnx")])
def test_default_output_keeps_the_precision_tag_last(name: str, expected: str) -> None:
    assert default_output(Path("runs/x") / name) == Path("runs/x") / expected


def test_synthetic_check_frames_have_the_frame_size() -> None:
    frames, source = check_images(None, FrameOptions((40, 72)), 2)
    assert len(frames) == 2 and frames[0].shape == (40, 72, 3) and frames[0].dtype == np.uint8 and "synthetic" in source


def test_export_from_an_onnx_agrees_with_the_cpu_path(tmp_path: Path) -> None:
    spec = rgb_spec()
    source = save_onnx(network(spec, (32, 48)), tmp_path / "net.onnx")
    result = export_end_to_end(source, None, FrameOptions((72, 100), overlay_alpha=0.5))
    assert result.path == tmp_path / "net.e2e.onnx" and result.agreement == 1.0 and result.frames == 2
    assert is_end_to_end_file(result.path) and not is_end_to_end_file(source) and not is_end_to_end_file(tmp_path / "none.onnx")
    with pytest.raises(EdgeUnetError, match="already an end-to-end model"):
        export_end_to_end(result.path, tmp_path / "again.onnx", FrameOptions((72, 100)))
    with pytest.raises(EdgeUnetError, match="input size is fixed"):
        export_end_to_end(source, tmp_path / "x.onnx", FrameOptions((72, 100)), size=(64, 64))
    with pytest.raises(EdgeUnetError, match="no such file"):
        export_end_to_end(tmp_path / "missing.pt", None, FrameOptions((72, 100)))
    with pytest.raises(EdgeUnetError, match="must end in .onnx"):
        export_end_to_end(source, tmp_path / "x.txt", FrameOptions((72, 100)))


def test_rewrapped_runs_the_step_on_the_network_and_wraps_its_result(tmp_path: Path) -> None:
    spec = rgb_spec()
    model = wrap(network(spec, (32, 48)), spec, FrameOptions((64, 96), overlay_alpha=0.3))
    source = save_onnx(model, tmp_path / "m.e2e.onnx")
    seen = []

    def step(net: Path, out: Path) -> Path:  # stands in for calibrate/convert: the network with other weights
        seen.append(read_model(net)[2].io)
        changed = network(spec, (32, 48), seed=7)
        return save_onnx(changed, out)

    out = tmp_path / "m.e2e.int8.onnx"
    rewrapped(source, out, step, lambda path: path)
    assert seen == ["float"]
    wrapped, _, wrapped_spec = read_model(out)
    assert wrapped_spec.end_to_end and wrapped_spec.overlay_alpha == 0.3 and [o.name for o in wrapped.graph.output] == ["mask", "overlay"]
    frames, _ = check_images(None, FrameOptions((64, 96)), 1)
    assert cpu_agreement(wrapped, network(spec, (32, 48), seed=7), spec, frames) == 1.0


def test_a_rejected_gate_keeps_the_wrapped_candidate(tmp_path: Path) -> None:
    from edgeunet.evaluate.gate import GateError, rejected_name

    spec = rgb_spec()
    source = save_onnx(wrap(network(spec, (32, 48)), spec, FrameOptions((64, 96))), tmp_path / "m.e2e.onnx")
    out = tmp_path / "m.e2e.int8.onnx"

    def failing(net: Path, net_out: Path) -> Path:
        save_onnx(network(spec, (32, 48), seed=3), rejected_name(net_out))
        raise GateError(f"accuracy gate failed: {net_out.name} lost 0.5; kept as {rejected_name(net_out)}; try again")

    with pytest.raises(GateError) as info:
        rewrapped(source, out, failing, lambda path: path)
    assert str(rejected_name(out)) in str(info.value) and "m.e2e.int8.onnx" in str(info.value)
    assert not out.exists() and is_end_to_end_file(rejected_name(out))
