"""Terminal tables: the first row's keys are the columns, missing cells print empty, no rows print nothing."""

from __future__ import annotations

import pytest

from edgeunet.core.tables import print_table


def test_rows_print_under_their_columns(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([{"model": "a.onnx", "FPS": "12.5"}, {"model": "b.onnx"}], title="bench")
    out = capsys.readouterr().out
    assert "bench" in out and "a.onnx" in out and "12.5" in out and "b.onnx" in out


def test_no_rows_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([])
    assert capsys.readouterr().out == ""
