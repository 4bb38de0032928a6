"""export/int8_options.py: the INT8 settings as one dataclass, its checks, and what `prepare` settles before calibrating."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_SPEC, load_onnx, read_metadata, save_onnx, set_metadata
from edgeunet.export.int8_options import Int8Options, check_files, check_keep_names, prepare


@pytest.mark.parametrize("settings, message", [
    ({"engine": "nvidia"}, "--engine nvidia: choose edgeunet or modelopt"),
    ({"method": "kl"}, "--method kl: choose from entropy, minmax, percentile"),
    ({"engine": "modelopt", "method": "percentile"}, "ModelOpt has no percentile"),
    ({"engine": "modelopt", "target": "cpu"}, "drop --target cpu"),
    ({"engine": "modelopt", "fallback": "auto"}, "edgeunet's own graph"),
    ({"target": "gpu"}, "--target gpu"),
    ({"num_images": 0}, "--num-images 0: must be at least 1"),
    ({"method": "percentile", "percentile": 30.0}, "--percentile 30.0"),
    ({"fallback": "always"}, "--fallback always: choose off or auto"),
    ({"target": "cpu", "keep_float": ["/c/Conv"]}, "use --target tensorrt"),
    ({"fallback": "auto", "gate": False}, "drop --no-gate"),
    ({"sensitivity": Path("report.png")}, "give a name ending in .md"),
    ({"max_drop": -0.1}, "--max-drop -0.1"),
    ({"max_drop": float("nan")}, "--max-drop nan"),
])
def test_each_refused_combination_is_one_line(settings: Dict[str, Any], message: str) -> None:
    with pytest.raises(EdgeUnetError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        Int8Options(**settings).check()
    assert "\n" not in str(info.value)


def test_defaults_are_calibrates_and_pass() -> None:
    options = Int8Options()
    options.check()
    assert (options.engine, options.method, options.num_images, options.target, options.gate) == ("edgeunet", "entropy", 64, "tensorrt", True)
    assert not options.chooses_float_layers and Int8Options(keep_float=("a",)).chooses_float_layers
    assert Int8Options(method="percentile", percentile=99.9).describe().startswith("engine edgeunet, percentile 99.9, 64 images")
    assert "gate max drop 0.01" in options.describe()


def _variant(tiny_onnx: Path, folder: Path, opset: int = 17, **spec: Any) -> Path:
    model = load_onnx(tiny_onnx)
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = opset
    if spec:
        set_metadata(model, {KEY_SPEC: {**json.loads(read_metadata(model)[KEY_SPEC]), **spec}})
    return save_onnx(model, folder / f"v{opset}.onnx", check=False)


def test_file_checks_are_the_same_for_both_engines(tiny_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="must end in .onnx"):
        check_files(tiny_onnx, tmp_path / "m.int8.engine", "edgeunet")
    with pytest.raises(EdgeUnetError, match="would overwrite the fp32 model"):
        check_files(tiny_onnx, tiny_onnx, "modelopt")
    old = _variant(tiny_onnx, tmp_path, opset=12)
    for engine in ("edgeunet", "modelopt"):  # the opset check once existed on one side only
        with pytest.raises(EdgeUnetError, match="opset 12; per-channel INT8 needs opset >= 13"):
            check_files(old, tmp_path / "o.onnx", engine)
    uint8 = _variant(tiny_onnx, tmp_path, io="uint8")
    check_files(uint8, tmp_path / "o.onnx", "edgeunet")
    with pytest.raises(EdgeUnetError, match="calibrates float-I/O models"):
        check_files(uint8, tmp_path / "o.onnx", "modelopt")
    model, _, spec = check_files(tiny_onnx, tmp_path / "o.onnx", "edgeunet")
    with pytest.raises(EdgeUnetError, match="--keep-float nope: no such layer"):
        check_keep_names(model, ["nope"])
    check_keep_names(model, [node.name for node in model.graph.node if node.op_type == "Conv"][:1])


def test_prepare_samples_checks_and_writes_nothing_when_strict(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    lines: list = []
    few = Int8Options(num_images=4, gate=False, strict_calibration=True, manifest_dir=tmp_path / "cal")
    with pytest.raises(EdgeUnetError, match="--strict-calibration: calibration set differs .*only 4 image"):
        prepare(tiny_onnx, synth_data, tmp_path / "out" / "m.int8.onnx", few, lines.append)
    assert not (tmp_path / "cal").exists() and not (tmp_path / "out").exists() and not lines
    job = prepare(tiny_onnx, synth_data, tmp_path / "out" / "m.int8.onnx", Int8Options(num_images=4, gate=False,
                                                                                       manifest_dir=tmp_path / "cal"), lines.append)
    assert len(job.images) == 4 and job.samples is None and not job.check["ok"] and (tmp_path / "cal").is_dir()
    assert len(lines) == 1 and lines[0].startswith("warning: calibration set differs") and "--strict-calibration" in lines[0]


def test_prepare_keeps_validation_images_out_of_calibration(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    val = tmp_path / "val"
    shutil.copytree(synth_data, val)
    options = Int8Options(num_images=64, val_data=val, manifest_dir=tmp_path / "cal")
    with pytest.raises(EdgeUnetError, match="every image is also a validation image"):
        prepare(tiny_onnx, synth_data, tmp_path / "m.int8.onnx", options, lambda line: None)
    with pytest.raises(EdgeUnetError, match="--sensitivity needs labelled validation images"):
        prepare(tiny_onnx, synth_data, tmp_path / "m.int8.onnx", Int8Options(gate=False, sensitivity=tmp_path / "r.md"), lambda line: None)
