"""Calibration and fp16 conversion of an end-to-end file: they change the network only.

`rewrapped` unwraps the network, runs the usual step (with its accuracy gate) on the float-I/O network, and wraps the
result with the same frame options, so Q/DQ never lands in the wrapper's resize, argmax or colouring. Kept apart from
export/end_to_end_export.py, whose checkpoint path reaches torch: bench and the engine builder import this one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_END_TO_END, read_metadata, read_model, save_onnx
from edgeunet.evaluate.gate import GateError, rejected_name
from edgeunet.export.end_to_end import frame_options, unwrap, wrap

T = TypeVar("T")


def rewrapped(path: Path | str, out: Path | str, step: Callable[[Path, Path], T], result_path: Callable[[T], Path]) -> T:
    """Run `step(network.onnx, network_out.onnx)` (calibrate, convert) on the network inside an end-to-end file, then
    wrap its output with the same frame options into `out`. `result_path` says where the step wrote its ONNX.

    A rejected gate keeps the candidate wrapped as OUT's `*.rejected.onnx` (as for a plain network) and its one line
    names that file; any other failure writes nothing.
    """
    path, out = Path(path), Path(out)
    model, metadata, _ = read_model(path)
    options = frame_options(metadata, str(path))
    network, spec = unwrap(model, str(path))
    with tempfile.TemporaryDirectory(prefix="edgeunet-e2e-", dir=out.parent if str(out.parent) else None) as tmp:
        net_in, net_out = Path(tmp) / f"{path.stem}.network-source.onnx", Path(tmp) / f"{out.stem}.network.onnx"
        save_onnx(network, net_in)
        try:
            result = step(net_in, net_out)
        except GateError as exc:  # keep the rejected candidate as an end-to-end file next to OUT, and say so
            rejected, kept = rejected_name(net_out), rejected_name(out)
            if rejected.exists():
                failed, _, failed_spec = read_model(rejected)
                save_onnx(wrap(failed, failed_spec, options, str(path)), kept)
            raise GateError(str(exc).replace(str(rejected), str(kept)).replace(net_out.name, out.name)) from None
        done, _, done_spec = read_model(result_path(result))
        save_onnx(wrap(done, done_spec, options, str(path)), out)
    return result


def is_end_to_end_file(path: Path | str) -> bool:
    """Whether PATH is an end-to-end ONNX (so calibrate/convert work on its network); unreadable files say no here and
    fail later in the step's own checks, with its own one-line message."""
    from edgeunet.core.onnx_model import load_onnx

    path = Path(path)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return False
    try:
        return KEY_END_TO_END in read_metadata(load_onnx(path))
    except EdgeUnetError:
        return False


def calibrate_end_to_end(path: Path, out: Path, step: Callable[[Path, Path], Any]) -> Any:
    """`quantize_and_gate` for an end-to-end file: the network is calibrated and gated, the result re-wrapped into OUT."""
    calib, gate = rewrapped(path, out, step, lambda done: done[0].onnx_path)
    calib.onnx_path = Path(out)
    return calib, gate
