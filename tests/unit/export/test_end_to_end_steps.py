"""End-to-end calibration / fp16 steps: the step runs on the network, the result is wrapped again; a rejected gate keeps
the wrapped candidate."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.onnx_model import read_model, save_onnx
from edgeunet.evaluate.gate import GateError, rejected_name
from edgeunet.export.end_to_end import FrameOptions, wrap
from edgeunet.export.end_to_end_export import check_images, cpu_agreement
from edgeunet.export.end_to_end_steps import is_end_to_end_file, rewrapped
from tests.unit.export.test_end_to_end import network, rgb_spec


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
