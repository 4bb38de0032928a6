"""The click group: every verb registered; the one error handler: any EdgeUnetError, click error or OSError of any command is
one redacted line."""

from __future__ import annotations

import errno

import click
import pytest

from edgeunet.cli import app
from edgeunet.core.errors import EdgeUnetError


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, exc: BaseException) -> tuple:
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(app.cli, "main", boom)
    with pytest.raises(SystemExit) as info:
        app.main(["anything"])
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("exc", "words"), [
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/best.pt"), ["No space left on device (ENOSPC): runs/x/best.pt", "free some space"]),
    (PermissionError(errno.EACCES, "Permission denied", "/etc/x"), ["Permission denied (EACCES): /etc/x"]),
    (OSError(errno.EROFS, "Read-only file system"), ["Read-only file system (EROFS)"]),
    (OSError("plain"), ["plain"]),
])
def test_an_os_error_is_one_line_and_exit_5(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, exc: OSError, words: list) -> None:
    code, err = _run(monkeypatch, capsys, exc)
    assert code == app.OS_ERROR_EXIT and err.count("\n") == 1 and err.startswith("error: ")
    assert all(word in err for word in words), err


def test_errors_are_redacted_and_printable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, err = _run(monkeypatch, capsys, EdgeUnetError("output rtsp://u:p@ss@cam/x?session_key=abc failed\n\x1b[2Jagain"))
    assert code == 2 and err.count("\n") == 1 and "p@ss" not in err and "abc" not in err and "\x1b" not in err
    code, err = _run(monkeypatch, capsys, click.UsageError("bad http://cam/?token=zzz"))
    assert "zzz" not in err and err.count("\n") == 1


def test_broken_pipe_is_silent(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, err = _run(monkeypatch, capsys, BrokenPipeError())
    assert code == 1 and err == ""


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
