"""Bad inputs to export / calibrate / convert / inspect / infer / evaluate(.onnx): one line, non-zero exit,
no traceback, and nothing half-written left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import onnx
import pytest

from tests.conftest import assert_user_error, run_cli

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model(tiny_run: Path, synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgeunet.export.onnx_export import export_onnx

    return export_onnx(tiny_run / "best.pt", tmp_path_factory.mktemp("bad") / "m.onnx", parity_data=synth_data, parity_images=1).path


def _edited(model: Path, out: Path, **meta: str) -> Path:
    proto = onnx.load(str(model))
    props = {p.key: p.value for p in proto.metadata_props}
    props.update(meta)
    del proto.metadata_props[:]
    for key, value in props.items():
        if value:
            proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(out))
    return out


def _clean(folder: Path, expected: List[str]) -> None:
    """Only the files the test made itself; no temporary leftovers, no outputs."""
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(expected), names


def test_inspect_non_onnx_file(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_text("# README\nnot a model at all\n" * 10)
    assert_user_error(run_cli("inspect", fake), "not a readable onnx")


def test_evaluate_truncated_onnx(model: Path, tmp_path: Path, synth_data: Path) -> None:
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(model.read_bytes()[:2000])
    assert_user_error(run_cli("evaluate", cut, "--data", synth_data), "not a readable onnx")


def test_calibrate_onnx_without_our_metadata(model: Path, tmp_path: Path, synth_data: Path) -> None:
    foreign = _edited(model, tmp_path / "foreign.onnx", **{"edgeunet.spec": ""})
    proc = run_cli("calibrate", foreign, "--data", synth_data, "--out", tmp_path / "q.onnx", "--manifest-dir", tmp_path / "cal")
    assert_user_error(proc, "without edgeunet metadata")
    _clean(tmp_path, ["foreign.onnx"])


def test_calibrate_empty_folder(model: Path, tmp_path: Path, synth_data: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_cli("calibrate", model, "--data", tmp_path / "empty", "--out", tmp_path / "q.onnx", "--val-data", synth_data,
                   "--manifest-dir", tmp_path / "cal")
    assert_user_error(proc, "no images")
    _clean(tmp_path, ["empty"])


def test_calibrate_negative_max_drop(model: Path, tmp_path: Path, synth_data: Path) -> None:
    proc = run_cli("calibrate", model, "--data", synth_data, "--out", tmp_path / "q.onnx", "--max-drop", "-0.1",
                   "--manifest-dir", tmp_path / "cal")
    assert_user_error(proc, "--max-drop -0.1: must be 0 or more")
    _clean(tmp_path, [])


def test_calibrate_zero_images(model: Path, tmp_path: Path, synth_data: Path) -> None:
    proc = run_cli("calibrate", model, "--data", synth_data, "--out", tmp_path / "q.onnx", "--num-images", "0", "--no-gate",
                   "--manifest-dir", tmp_path / "cal")
    assert_user_error(proc, "--num-images 0")
    _clean(tmp_path, ["cal"] if (tmp_path / "cal").exists() else [])


def test_calibrate_already_quantized(model: Path, tmp_path: Path, synth_data: Path) -> None:
    int8 = _edited(model, tmp_path / "m.int8.onnx", **{"edgeunet.precision": "int8"})
    proc = run_cli("calibrate", int8, "--data", synth_data, "--out", tmp_path / "again.onnx", "--no-gate", "--manifest-dir", tmp_path / "cal")
    assert_user_error(proc, "already int8")
    assert not (tmp_path / "again.onnx").exists()


def test_calibrate_over_its_own_input(model: Path, tmp_path: Path, synth_data: Path) -> None:
    before = model.read_bytes()
    proc = run_cli("calibrate", model, "--data", synth_data, "--out", model, "--no-gate", "--manifest-dir", tmp_path / "cal")
    assert_user_error(proc, "would overwrite the fp32 model")
    assert model.read_bytes() == before


def test_gate_without_known_validation_images(model: Path, tmp_path: Path, synth_data: Path) -> None:
    lost = _edited(model, tmp_path / "lost.onnx", **{"edgeunet.val_split": ""})
    proc = run_cli("convert", lost, "--fp16", "--out", tmp_path / "h.onnx")
    assert_user_error(proc, "pass --val-data")
    _clean(tmp_path, ["lost.onnx"])


def test_convert_needs_a_target_precision(model: Path, tmp_path: Path) -> None:
    assert_user_error(run_cli("convert", model, "--out", tmp_path / "x.onnx"), "--fp16")
    _clean(tmp_path, [])


def test_export_wrong_suffix_and_not_a_checkpoint(tiny_run: Path, tmp_path: Path) -> None:
    assert_user_error(run_cli("export", tiny_run / "best.pt", "--out", tmp_path / "model.txt"), "must end in .onnx")
    fake = tmp_path / "fake.pt"
    fake.write_text("not a checkpoint")
    assert_user_error(run_cli("export", fake, "--out", tmp_path / "m.onnx"), "checkpoint")
    _clean(tmp_path, ["fake.pt"])


def test_export_dynamic_with_size(tiny_run: Path, tmp_path: Path) -> None:
    proc = run_cli("export", tiny_run / "best.pt", "--out", tmp_path / "m.onnx", "--dynamic", "--size", "64", "64")
    assert_user_error(proc, "exclude each other")
    _clean(tmp_path, [])


def test_metadata_channel_count_disagrees_with_graph(model: Path, tmp_path: Path, synth_data: Path) -> None:
    spec = json.loads({p.key: p.value for p in onnx.load(str(model)).metadata_props}["edgeunet.spec"])
    spec.update(in_channels=3, mean=[0.5] * 3, std=[0.25] * 3, channel_order="rgb")
    bad = _edited(model, tmp_path / "rgb.onnx", **{"edgeunet.spec": json.dumps(spec)})
    image = next((synth_data / "images").iterdir())
    assert_user_error(run_cli("infer", bad, image, "--out", tmp_path / "pred"), "graph takes 1-channel input")
    _clean(tmp_path, ["rgb.onnx"])


def test_infer_corrupt_image(model: Path, tmp_path: Path, synth_data: Path) -> None:
    image = tmp_path / "broken.png"
    image.write_bytes(next((synth_data / "images").iterdir()).read_bytes()[:40])
    assert_user_error(run_cli("infer", model, image, "--out", tmp_path / "pred"), "not a readable image")
    _clean(tmp_path, ["broken.png"])


def test_infer_missing_input_and_taken_output(model: Path, tmp_path: Path, synth_data: Path) -> None:
    assert_user_error(run_cli("infer", model, tmp_path / "nope.png", "--out", tmp_path / "pred"), "no such file or folder")
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "keep.txt").write_text("mine")
    image = next((synth_data / "images").iterdir())
    assert_user_error(run_cli("infer", model, image, "--out", tmp_path / "pred"), "already exists")
    _clean(tmp_path / "pred", ["keep.txt"])
