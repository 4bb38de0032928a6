"""One rule for both tables: a second row with a taken name or key is refused at import."""

from __future__ import annotations

from typing import Dict, Tuple

import pytest

from edgeunet.stream.registry import add_row


def test_add_row_refuses_taken_names_and_keys() -> None:
    table: Dict[str, Tuple[str, ...]] = {}
    keys = lambda row: row  # noqa: E731 - a row here is just its keys
    assert add_row(table, "web", ("web",), keys, "sink") == ("web",)
    add_row(table, "mjpeg", ("mjpeg",), keys, "sink")
    with pytest.raises(ValueError, match="sink web: web already registered"):
        add_row(table, "web", ("www",), keys, "sink")
    with pytest.raises(ValueError, match="sink viewer: mjpeg, web already registered"):
        add_row(table, "viewer", ("web", "mjpeg"), keys, "sink")
    assert list(table) == ["web", "mjpeg"]
