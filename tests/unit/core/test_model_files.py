"""The one suffix -> model kind table every stage reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.model_files import (
    CHECKPOINT,
    CHECKPOINT_SUFFIXES,
    ENGINE,
    ENGINE_SUFFIXES,
    MODEL_KINDS,
    ONNX,
    model_kind,
    suffixes_of,
)


@pytest.mark.parametrize(("name", "kind"), [
    ("run/best.pt", CHECKPOINT), ("model.PTH", CHECKPOINT), ("model.fp16.onnx", ONNX), ("m.ONNX", ONNX),
    ("m.engine", ENGINE), ("m.plan", ENGINE), (Path("dir.onnx") / "m.plan", ENGINE),
])
def test_kind_by_suffix_case_insensitive(name: str, kind: str) -> None:
    assert model_kind(name) == kind


@pytest.mark.parametrize("name", ["model.tflite", "model", "model.onnx.bak", "weights.pt.tmp", ""])
def test_unknown_suffix_is_none_not_a_guess(name: str) -> None:
    assert model_kind(name) is None


def test_suffix_lists_come_from_the_table() -> None:
    assert CHECKPOINT_SUFFIXES == (".pt", ".pth") and ENGINE_SUFFIXES == (".engine", ".plan")
    assert suffixes_of(ONNX) == (".onnx",) and suffixes_of("tflite") == ()
    assert set(MODEL_KINDS.values()) == {CHECKPOINT, ONNX, ENGINE}
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in MODEL_KINDS)
