"""The doctor's probe: a tool that is absent, fails or hangs is None, never an exception or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.deploy import checks


def test_run_probe() -> None:
    assert checks.run_probe(["echo", "hello"]) == "hello\n"
    assert checks.run_probe(["false"]) is None
    assert checks.run_probe(["edgeunet-no-such-tool"]) is None


def test_a_hanging_tool_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "PROBE_TIMEOUT_S", 0.2)
    assert checks.run_probe(["sleep", "5"]) is None


def test_release_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(checks.RELEASE_ENV, raising=False)
    assert checks.release_file() == checks.DEFAULT_RELEASE_FILE
    monkeypatch.setenv(checks.RELEASE_ENV, str(tmp_path / "r"))
    assert checks.release_file() == tmp_path / "r"
