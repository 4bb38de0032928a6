"""`edgeunet infer`: which inputs it takes, what it writes (masks, overlays, areas.json), and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.data.synth import make_dataset
from edgeunet.evaluate.infer import class_areas, collect_inputs, infer
from tests.unit.tiny_graphs import threshold_onnx


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("infer") / "cells", count=3, size=40, seed=0)


def _write(path: Path, size: tuple = (20, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(size, 128, np.uint8))
    return path


def test_folders_files_and_an_images_subfolder(tmp_path: Path, cells: Path) -> None:
    loose = _write(tmp_path / "loose" / "x.png")
    found = collect_inputs([cells, loose, loose])  # a dataset root reads its images/; a repeated file counts once
    assert [p.name for p in found] == ["000.png", "001.png", "002.png", "x.png"]


def test_input_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="no INPUTS given"):
        collect_inputs([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeUnetError, match="no images"):
        collect_inputs([tmp_path / "empty"])
    (tmp_path / "clip.avi").write_bytes(b"RIFF")
    with pytest.raises(EdgeUnetError, match="for video use `edgeunet stream`"):
        collect_inputs([tmp_path / "clip.avi"])
    a, b = _write(tmp_path / "a" / "frame.png"), _write(tmp_path / "b" / "frame.jpg")
    with pytest.raises(EdgeUnetError, match="same name as"):  # both would write masks/frame.png
        collect_inputs([a, b])


def test_class_areas_count_every_class_even_absent_ones() -> None:
    areas = class_areas(np.zeros((2, 3), np.uint8), ["background", "cell", "nucleus"])
    assert areas["pixels"] == {"background": 6, "cell": 0, "nucleus": 0}
    assert areas["fraction"] == {"background": 1.0, "cell": 0.0, "nucleus": 0.0}


def test_writes_masks_overlays_and_areas_at_each_images_size(tmp_path: Path, cells: Path) -> None:
    model = threshold_onnx(tmp_path / "m.onnx")
    odd = _write(tmp_path / "odd.png", (25, 47))
    result = infer(model, [cells, odd], tmp_path / "out", backend="onnxruntime", device="cpu")
    out = tmp_path / "out"
    assert result.images == 4 and result.backend == "onnxruntime" and result.precision == "fp32"
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["000.png", "001.png", "002.png", "odd.png"]
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["000.jpg", "001.jpg", "002.jpg", "odd.jpg"]
    mask = cv2.imread(str(out / "masks" / "odd.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (25, 47) and set(np.unique(mask)) <= {0, 1}
    summary = json.loads((out / "areas.json").read_text())
    assert summary["classes"] == ["background", "foreground"] and set(summary["images"]) == {"000", "001", "002", "odd"}
    entry = summary["images"]["000"]
    assert entry["size"] == [40, 40] and sum(entry["pixels"].values()) == 1600
    assert entry == result.areas["000"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_no_overlays_and_tiled(tmp_path: Path, cells: Path) -> None:
    model = threshold_onnx(tmp_path / "m.onnx", dynamic_hw=True)
    whole = infer(model, [cells], tmp_path / "whole", backend="onnxruntime", device="cpu", overlays=False, size="native")
    tiled = infer(model, [cells], tmp_path / "tiled", backend="onnxruntime", device="cpu", overlays=False, tile=16, overlap=4)
    assert not (tmp_path / "whole" / "overlays").exists() and whole.images == tiled.images == 3
    for name in ("000.png", "001.png"):  # a pixel-wise model: tiles give exactly the whole-frame mask
        a = cv2.imread(str(tmp_path / "whole" / "masks" / name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(tmp_path / "tiled" / "masks" / name), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(a, b)


def test_an_unreadable_image_leaves_no_output_folder(tmp_path: Path, cells: Path) -> None:
    model = threshold_onnx(tmp_path / "m.onnx")
    broken = tmp_path / "zzz.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(EdgeUnetError):
        infer(model, [cells, broken], tmp_path / "out", backend="onnxruntime", device="cpu")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "zzz.png"]


def test_bad_size_is_refused_before_any_output(tmp_path: Path, cells: Path) -> None:
    with pytest.raises(EdgeUnetError, match="--size 64"):
        infer(threshold_onnx(tmp_path / "m.onnx"), [cells], tmp_path / "out", backend="onnxruntime", device="cpu", size="64")
    assert not (tmp_path / "out").exists()
