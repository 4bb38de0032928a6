"""The hand-over channels between pipeline stages (bounded, newest-frame)."""

from __future__ import annotations

import threading
import time

import pytest

from edgeunet.stream.channel import Channel, Closed


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
