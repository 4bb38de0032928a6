"""bench.decide: --choose and --min-dice on a hand-made report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.bench import decide
from edgeunet.core.errors import EdgeUnetError
from tests.unit.bench.sample_report import REPORT, make_report, make_row


def test_choose_fastest_within_drop_and_int8_note() -> None:
    rec = decide.choose(REPORT, max_drop=0.01)
    assert rec["recommended"]["backend"] == "onnxruntime" and rec["recommended"]["precision"] == "fp32"
    assert decide.choose(REPORT, max_drop=0.1)["recommended"]["precision"] == "int8"
    slow_int8 = make_report([make_row("onnxruntime", "fp32", 20.0, 0.9), make_row("onnxruntime", "int8", 15.0, 0.9)])
    notes = decide.choose(slow_int8, 0.01)["notes"]
    assert notes and "INT8 (int8) is not faster than FP32" in notes[0]


def test_min_dice_fails_in_one_line() -> None:
    decide.check_min_dice(REPORT, 0.8)
    with pytest.raises(EdgeUnetError) as info:
        decide.check_min_dice(REPORT, 0.88)
    assert "\n" not in str(info.value) and "ORT-int8" in str(info.value)


def test_decisions_need_dice() -> None:
    unscored = make_report([make_row("onnxruntime", "fp32", 20.0, None)])
    with pytest.raises(EdgeUnetError, match="--data"):
        decide.choose(unscored, 0.01)
    with pytest.raises(EdgeUnetError, match="--data"):
        decide.check_min_dice(unscored, 0.5)


def test_recommendation_is_written_and_summed_up_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "recommended.json"
    rec = decide.write_recommendation(REPORT, 0.01, target)
    assert json.loads(target.read_text()) == rec and rec["schema"] == "edgeunet-recommendation/1"
    line = decide.recommendation_line(rec, target)
    assert "\n" not in line and line.startswith("recommended: ORT-fp32 b1 64x64 (20.0 FPS") and str(target) in line

