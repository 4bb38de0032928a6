"""stream/web_metrics.py: /metrics in Prometheus text format and the live page's one-minute sparkline."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Tuple

from prometheus_client.parser import text_string_to_metric_families

from edgeunet.stream.stats import CAPTURE_TO_DISPLAY, END_TO_END
from edgeunet.stream.web_metrics import prometheus_text, sparkline


def _samples(stats: Dict[str, Any]) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    text = prometheus_text(stats).decode("utf-8")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_full_snapshot() -> None:
    stats = {"fps": 24.5, "rolling_fps": 25, "frames": 100, "captured": 104, "dropped": 4, "corrupt": 1, "reconnects": 2,
             "viewers": 3, "flicker_last_second": 0.75,
             "stages": {"inference": {"p50": 10.0, "p95": 12.5, "p99": 20.0, "count": 100}, "capture": {"p50": 1.0}}}
    got = _samples(stats)
    assert got[("edgeunet_stream_fps", ())] == 24.5 and got[("edgeunet_stream_rolling_fps", ())] == 25.0
    assert got[("edgeunet_stream_frames_total", ())] == 100 and got[("edgeunet_stream_dropped_total", ())] == 4
    assert got[("edgeunet_stream_reconnects_total", ())] == 2 and got[("edgeunet_stream_viewers", ())] == 3
    assert got[("edgeunet_stream_latency_ms", (("quantile", "0.95"), ("stage", "inference")))] == 12.5
    assert got[("edgeunet_stream_latency_ms", (("quantile", "0.99"), ("stage", "inference")))] == 20.0
    assert got[("edgeunet_stream_latency_ms", (("quantile", "0.50"), ("stage", "capture")))] == 1.0  # p50 -> "0.50", as written
    assert ("edgeunet_stream_latency_ms", (("quantile", "0.95"), ("stage", "capture"))) not in got  # only what was measured
    assert not any(name == "edgeunet_stream_latency_ms" and dict(labels).get("quantile") == "0.count" for name, labels in got)
    assert got[("edgeunet_stream_flicker_percent", ())] == 0.75


def test_an_empty_snapshot_is_zeros_and_no_flicker() -> None:
    got = _samples({})
    assert got[("edgeunet_stream_fps", ())] == 0.0 and got[("edgeunet_stream_corrupt_total", ())] == 0.0
    assert not any(name.startswith("edgeunet_stream_flicker") or name == "edgeunet_stream_latency_ms" for name, _ in got)
    assert _samples({"stages": None}) == got


def test_label_values_are_escaped_and_registries_stay_apart() -> None:
    weird = 'cam "1"\\back\nline'
    got = _samples({"stages": {weird: {"p50": 2.0}}})
    assert got[("edgeunet_stream_latency_ms", (("quantile", "0.50"), ("stage", weird)))] == 2.0
    first, second = prometheus_text({"frames": 1}), prometheus_text({"frames": 2})  # no global registry: no "duplicated timeseries"
    assert b"edgeunet_stream_frames_total 1.0" in first and b"edgeunet_stream_frames_total 2.0" in second


class _Recorder:
    def __init__(self, samples: Dict[str, List[Tuple[float, float]]]) -> None:
        self.samples = samples

    def recent(self, stage: str, seconds: float) -> List[Tuple[float, float]]:
        cutoff = time.perf_counter() - seconds
        return [s for s in self.samples.get(stage, []) if s[0] >= cutoff]


def test_sparkline_without_a_recorder() -> None:
    assert sparkline(None) == {"stage": END_TO_END, "values": []}


def test_sparkline_buckets_per_second_newest_last() -> None:
    now = time.perf_counter()
    recorder = _Recorder({END_TO_END: [(now - 0.1, 10.0), (now - 0.2, 30.0), (now - 0.3, 20.0), (now - 5.5, 7.0), (now - 120, 99.0)]})
    line = sparkline(recorder, seconds=60)
    values = line["values"]
    assert line["stage"] == END_TO_END and len(values) == 60
    assert values[-1] == 20.0  # the median of the last second
    assert values[-6] == 7.0
    assert sum(v is not None for v in values) == 2  # the two-minute-old sample is outside the window


def test_sparkline_prefers_capture_to_display_when_live() -> None:
    now = time.perf_counter()
    recorder = _Recorder({END_TO_END: [(now - 0.1, 5.0)], CAPTURE_TO_DISPLAY: [(now - 0.1, 40.0), (now - 0.2, 41.0)]})
    line = sparkline(recorder, seconds=3)
    assert line == {"stage": CAPTURE_TO_DISPLAY, "values": [None, None, 40.5]}
