"""Tests for edgeunet.stream.options."""

from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.options import StreamOptions


@pytest.mark.parametrize("bad", [{"overlay": "blur"}, {"alpha": 2.0}, {"max_frames": 0}, {"fps": 0.0}, {"reconnect": -1}])
def test_options_are_checked(bad: dict) -> None:
    with pytest.raises(EdgeUnetError):
        StreamOptions(**bad).check()
