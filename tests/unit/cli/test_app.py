"""The click group: every verb registered, and every way a command can end mapped to one line and an exit code."""

from __future__ import annotations

import pytest

from edgeunet.cli import app
from edgeunet.core.errors import EdgeUnetError


def test_every_verb_is_registered() -> None:
    assert {"data", "train", "evaluate", "infer", "export", "calibrate", "convert", "inspect", "build-engine", "bench",
            "export-triton", "export-deepstream", "doctor", "stream", "demo"} <= set(app.cli.commands)


@pytest.mark.parametrize("raised, code, line", [
    (EdgeUnetError("bad thing; do this"), 2, "error: bad thing; do this"),
    (KeyboardInterrupt(), 130, "error: interrupted"),
])
def test_errors_become_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                raised: BaseException, code: int, line: str) -> None:
    def fail(**_: object) -> None:
        raise raised

    monkeypatch.setattr(app.cli, "main", fail)
    with pytest.raises(SystemExit) as exit_info:
        app.main([])
    assert exit_info.value.code == code
    assert capsys.readouterr().err.strip() == line


def test_unknown_option_is_a_click_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        app.main(["evaluate", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--no-such-option" in err[0]
