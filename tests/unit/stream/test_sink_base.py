"""The Sink base: counts frames, hands the drawn view to write(), and opens/closes as a no-op (the null sink)."""

from __future__ import annotations

import numpy as np

from edgeunet.stream.sink_base import Sink, SinkSpec


def test_base_sink_counts_the_drawn_views() -> None:
    sink = Sink(SinkSpec(kind="null", text="null")).open()
    frame = np.zeros((4, 4, 3), np.uint8)
    sink.write_result(frame, 0, frame, np.zeros((4, 4), np.uint8))
    sink.write(frame, 1)
    sink.close()
    assert sink.frames == 2 and sink.name == "null" and not sink.stop_requested
