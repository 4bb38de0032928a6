"""`edgeunet ARGS` in this process (no interpreter start-up): exit code and output, as the unit CLI tests read them."""

from __future__ import annotations

from typing import Any, Tuple

import pytest


def cli(capsys: pytest.CaptureFixture[str], *args: Any) -> Tuple[int, str, str]:
    """(exit code, stdout, stderr) of `edgeunet ARGS` through the real entry point (errors mapped to one line)."""
    from edgeunet.cli.app import main

    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def ok(result: Tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0, out + err
    return out


def one_line_error(result: Tuple[int, str, str], fragment: str) -> str:
    """A non-zero exit and one line on stderr (warning lines aside) that names the problem; returns that line."""
    code, _, err = result
    assert code != 0, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning: ")]
    assert len(lines) == 1 and fragment.lower() in lines[0].lower(), err
    assert "Traceback" not in err
    return lines[0]
