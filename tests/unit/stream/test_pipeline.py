"""Pipeline parts without a model: hand-over channels (bounded, newest-frame) and the OpenCV-only drawing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import colour_lut
from edgeunet.core.spec import ModelSpec
from edgeunet.stream.pipeline import Channel, Closed, StreamOptions, draw_hud, render


def test_block_channel_is_bounded_and_drains_after_close() -> None:
    ch = Channel("q", capacity=2)
    assert ch.put(1) and ch.put(2)
    started = threading.Event()

    def producer() -> None:
        started.set()
        ch.put(3)  # waits: the channel is full

    t = threading.Thread(target=producer)
    t.start()
    started.wait()
    time.sleep(0.05)
    assert t.is_alive() and ch.max_depth == 2
    assert ch.get() == 1
    t.join(1)
    ch.close()
    assert [ch.get(), ch.get()] == [2, 3]
    with pytest.raises(Closed):
        ch.get()
    assert not ch.put(4)


def test_latest_channel_keeps_the_newest_and_counts_drops() -> None:
    drops = []
    ch = Channel("q", latest=True, on_drop=lambda: drops.append(1))
    for i in range(5):
        assert ch.put(i)
    assert ch.get() == 4 and ch.dropped == 4 and len(drops) == 4 and ch.max_depth == 1


def test_close_with_discard_wakes_a_blocked_producer() -> None:
    ch = Channel("q", capacity=1)
    ch.put(0)
    result = []
    t = threading.Thread(target=lambda: result.append(ch.put(1)))
    t.start()
    time.sleep(0.05)
    ch.close(discard=True)
    t.join(1)
    assert result == [False]
    with pytest.raises(Closed):
        ch.get()


@pytest.mark.parametrize(("mode", "width"), [("alpha", 40), ("mask", 40), ("contour", 40), ("side", 80)])
def test_render_modes(mode: str, width: int) -> None:
    spec = ModelSpec(num_classes=3, class_names=["bg", "a", "b"])
    frame = np.full((30, 40, 3), 100, np.uint8)
    mask = np.zeros((30, 40), np.uint8)
    mask[5:15, 5:15] = 1
    mask[20:28, 20:35] = 2
    view = render(frame, mask, mode, colour_lut(spec.colors), spec.colors, 0.5)
    assert view.shape == (30, width, 3) and view.dtype == np.uint8
    assert (frame == 100).all()  # the source frame is never drawn on
    if mode == "alpha":
        assert (view[0, 0] == 100).all() and not (view[10, 10] == 100).all()
    gray = render(frame[:, :, 0], mask, mode, colour_lut(spec.colors), spec.colors, 0.5)
    assert gray.shape == (30, width, 3)


def test_hud_draws_on_the_view() -> None:
    view = np.zeros((120, 320, 3), np.uint8)
    draw_hud(view, "12.3 FPS  infer 4.5 ms")
    assert view.max() == 255


@pytest.mark.parametrize("bad", [{"overlay": "blur"}, {"alpha": 2.0}, {"max_frames": 0}, {"fps": 0.0}, {"reconnect": -1}])
def test_options_are_checked(bad: dict) -> None:
    with pytest.raises(EdgeUnetError):
        StreamOptions(**bad).check()
