from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core.atomic import atomic_dir, atomic_path, atomic_write_text
from edgeunet.core.errors import EdgeUnetError


def test_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_success_replaces(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "new"


def test_atomic_dir_refuses_to_replace_user_files(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("precious")
    with pytest.raises(EdgeUnetError, match="not an empty folder"), atomic_dir(tmp_path / "out"):
        pass
    assert (tmp_path / "out" / "mine.txt").read_text() == "precious"
