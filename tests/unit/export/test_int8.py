"""export/int8.py: the one INT8 path end to end on the tiny model: gate, rejection, fallback, one write of each file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest

import edgeunet.export.int8 as int8
import edgeunet.export.int8_result as int8_result
from edgeunet.core.atomic import sha256_file
from edgeunet.core.onnx_model import KEY_CALIBRATION, KEY_FLOAT_LAYERS, KEY_GATE, load_onnx, read_metadata
from edgeunet.evaluate.gate import GateError
from edgeunet.export.int8 import Int8Options, quantize_and_gate
from edgeunet.export.qdq_layers import quantized_layers


@pytest.fixture()
def val(synth_data: Path, tmp_path: Path) -> Path:
    """The last 4 synthetic pairs as the labelled validation folder (calibration then excludes them)."""
    folder = tmp_path / "val"
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True)
        for path in sorted((synth_data / sub).iterdir())[-4:]:
            shutil.copy(path, folder / sub / path.name)
    return folder


def _count_writes(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    writes: List[str] = []

    def counted(name: str) -> Any:
        real = getattr(int8_result, name)

        def write(*args: Any, **kwargs: Any) -> Any:
            path = next(arg for arg in args if isinstance(arg, Path))  # atomic_write_text(path, text), save_onnx(model, path)
            writes.append(f"{name} {path.name}")
            return real(*args, **kwargs)

        return write

    for name in ("atomic_write_text", "save_onnx"):
        monkeypatch.setattr(int8_result, name, counted(name))
    return writes


def _failing(monkeypatch: pytest.MonkeyPatch, every: bool) -> None:
    """A candidate 0.5 Dice worse than it is: every set of float layers (every=True) or only the fully quantized graph."""
    real = int8.gate_result

    def worse(reference: Path, candidate: Path, ref: Dict[str, Any], cand: Dict[str, Any], *args: Any) -> Any:
        if every or cand is worse.first:
            cand = {**cand, "dice": cand["dice"] - 0.5}
        return real(reference, candidate, ref, cand, *args)

    worse.first = None  # type: ignore[attr-defined]
    monkeypatch.setattr(int8, "gate_result", worse)


def test_passing_gate_with_kept_layer_writes_each_file_once(tiny_onnx: Path, synth_data: Path, val: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    writes = _count_writes(monkeypatch)
    conv = next(node.name for node in load_onnx(tiny_onnx).graph.node if node.op_type == "Conv")
    out = tmp_path / "m.int8.onnx"
    options = Int8Options(num_images=8, method="minmax", val_data=val, max_drop=1.0, keep_float=[conv, "/nope/ConvTranspose"],
                          manifest_dir=tmp_path / "cal", progress=False)
    lines: List[str] = []
    with pytest.raises(Exception, match="no such layer"):
        quantize_and_gate(tiny_onnx, synth_data, out, options, lines.append)
    options = Int8Options(**{**options.__dict__, "keep_float": [conv]})
    calib, gate = quantize_and_gate(tiny_onnx, synth_data, out, options, lines.append)
    assert gate is not None and gate.passed and gate.float_layers == [conv] and calib.float_layers == [conv]
    assert sorted(writes) == sorted([f"atomic_write_text {calib.manifest_path.name}", "save_onnx m.int8.onnx"])
    metadata = read_metadata(load_onnx(out))
    assert json.loads(metadata[KEY_GATE])["passed"] and json.loads(metadata[KEY_FLOAT_LAYERS]) == [conv]
    assert json.loads(metadata[KEY_CALIBRATION])["manifest_sha256"] == sha256_file(calib.manifest_path)
    manifest = json.loads(calib.manifest_path.read_text())
    assert manifest["float_layers"] == [conv] and manifest["fallback"] == {"mode": "off"} and "calibration_check" in manifest
    assert conv not in quantized_layers(load_onnx(out))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_gate_keeps_the_file_as_rejected(tiny_onnx: Path, synth_data: Path, val: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, every=True)
    out = tmp_path / "m.int8.onnx"
    options = Int8Options(num_images=8, method="minmax", val_data=val, manifest_dir=tmp_path / "cal", progress=False)
    with pytest.raises(GateError, match="accuracy gate failed: m.int8.onnx .*kept as .*m.int8.rejected.onnx"):
        quantize_and_gate(tiny_onnx, synth_data, out, options)
    rejected = tmp_path / "m.int8.rejected.onnx"
    assert not out.exists() and rejected.is_file() and KEY_GATE not in read_metadata(load_onnx(rejected))
    assert len(list((tmp_path / "cal").glob("*.json"))) == 1


def test_fallback_that_never_passes_writes_the_all_float_graph_as_rejected(tiny_onnx: Path, synth_data: Path, val: Path,
                                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, every=True)
    writes = _count_writes(monkeypatch)
    out = tmp_path / "m.int8.onnx"
    options = Int8Options(num_images=8, method="minmax", val_data=val, fallback="auto", manifest_dir=tmp_path / "cal", progress=False)
    lines: List[str] = []
    with pytest.raises(GateError, match="fails even with all .* quantized layers in float"):
        quantize_and_gate(tiny_onnx, synth_data, out, options, lines.append)
    rejected = tmp_path / "m.int8.rejected.onnx"
    assert not out.exists() and rejected.is_file() and len(writes) == 2
    layers = json.loads(read_metadata(load_onnx(rejected))[KEY_FLOAT_LAYERS])
    manifest = json.loads(next((tmp_path / "cal").glob("*.json")).read_text())
    assert layers and manifest["float_layers"] == layers and manifest["fallback"]["passed"] is False
    assert any("--fallback auto: leaving the most sensitive layers in float" in line for line in lines)
