"""The accuracy gate's file side: the one --max-drop check, the verdict line, a rejected candidate renamed, never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.evaluate.gate import GATE_EXIT_CODE, GateError, check_max_drop, gate_result, reject, rejected_name


def _result(iou: list, dice: float) -> dict:
    confusion = [[100 if i == j else 0 for j in range(len(iou))] for i in range(len(iou))]
    return {"iou": iou, "miou": sum(iou) / len(iou), "dice": dice, "confusion": confusion,
            "class_names": [f"c{i}" for i in range(len(iou))], "precision": "int8"}


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_max_drop_must_be_a_non_negative_number(bad: float) -> None:
    with pytest.raises(EdgeUnetError, match="Dice for binary models, mIoU for multi-class"):
        check_max_drop(bad)
    check_max_drop(0.0)


def test_binary_models_are_gated_on_dice(tmp_path: Path) -> None:
    result = gate_result(tmp_path / "a.onnx", tmp_path / "a.int8.onnx", _result([0.9, 0.8], 0.85), _result([0.9, 0.79], 0.845),
                         max_drop=0.01, max_class_drop=None, images=3, source="val", binary=True)
    assert result.passed and result.metric == "dice"
    assert result.line().startswith("accuracy gate passed on 3 image(s) (val): Dice fp32 0.8500, int8 0.8450")


def test_a_failed_candidate_is_renamed_and_the_error_says_where(tmp_path: Path) -> None:
    candidate = tmp_path / "m.int8.onnx"
    candidate.write_bytes(b"onnx")
    result = gate_result(tmp_path / "m.onnx", candidate, _result([0.9, 0.8, 0.7], 0.8), _result([0.9, 0.6, 0.7], 0.7),
                         max_drop=0.01, max_class_drop=None, images=2, source="val", binary=False)
    assert not result.passed and result.metric == "miou"
    with pytest.raises(GateError, match="kept as .*m.int8.rejected.onnx") as info:
        reject(result)
    assert info.value.exit_code == GATE_EXIT_CODE
    assert not candidate.exists() and rejected_name(candidate).read_bytes() == b"onnx"

