"""Tests for edgeunet.stream.options."""

from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.stream.options import StreamOptions, live_threads, reserve_stage_core, usable_cores


@pytest.mark.parametrize("bad", [{"overlay": "blur"}, {"alpha": 2.0}, {"max_frames": 0}, {"fps": 0.0}, {"reconnect": -1}])
def test_options_are_checked(bad: dict) -> None:
    with pytest.raises(EdgeUnetError):
        StreamOptions(**bad).check()


def test_unknown_upsample_is_checked() -> None:
    with pytest.raises(EdgeUnetError, match="--upsample"):
        StreamOptions(upsample="bicubic").check()
    assert StreamOptions().check().upsample == "fast"


@pytest.mark.parametrize(("cores", "threads", "reserve"), [(1, 1, False), (2, 1, True), (3, 2, True), (8, 7, True)])
def test_live_defaults_follow_the_core_count(cores: int, threads: int, reserve: bool) -> None:
    """From 2 cores one core is kept for the other stages (measured: steadier where other jobs share the machine)."""
    assert reserve_stage_core(cores) is reserve
    assert live_threads(cores) == threads


def test_usable_cores_is_at_least_one() -> None:
    assert usable_cores() >= 1
