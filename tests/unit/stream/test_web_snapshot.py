"""POST /snapshot's files: three whole files, only our own snap-* files count against the quota."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.web_snapshot import save_snapshot, used_bytes

VIEW = np.full((32, 48, 3), 90, np.uint8)


def test_three_files_and_their_size_is_counted(tmp_path: Path) -> None:
    saved = save_snapshot(tmp_path, 7, VIEW, np.zeros((32, 48), np.uint8), VIEW)
    assert [name.rsplit("-", 1)[1] for name in saved] == ["frame.png", "mask.png", "overlay.jpg"]
    assert used_bytes(tmp_path) == sum((tmp_path / name).stat().st_size for name in saved)


def test_other_files_do_not_count_and_the_quota_refuses_before_writing(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"x" * 5000)
    assert used_bytes(tmp_path) == 0 and used_bytes(tmp_path / "missing") == 0
    (tmp_path / "snap-old-frame.png").write_bytes(b"x" * 5000)
    with pytest.raises(EdgeUnetError, match="quota"):
        save_snapshot(tmp_path, 1, VIEW, np.zeros((32, 48), np.uint8), VIEW, quota_bytes=5000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "snap-old-frame.png"]
