"""`edgeunet demo` never overwrites an earlier demo: runs/demo, then runs/demo2, runs/demo3, ..."""

from __future__ import annotations

from pathlib import Path

from edgeunet.cli.demo import fresh_folder


def test_fresh_folder_counts_up(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    assert fresh_folder(base) == base
    base.mkdir()
    assert fresh_folder(base) == tmp_path / "demo2"
    (tmp_path / "demo2").mkdir()
    assert fresh_folder(base) == tmp_path / "demo3"
