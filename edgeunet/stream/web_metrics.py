"""The web view's numbers for machines: Prometheus text (/metrics) and the page's one-minute sparkline.

Why prometheus_client with a custom collector: the format's escaping and type lines come from the
maintained library; the collector reads the run's live stats at scrape time, so nothing is
double-counted and no global registry is touched (several streams in one process stay apart).
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from edgeunet.stream.stats import CAPTURE_TO_DISPLAY, END_TO_END, RECENT_S

QUANTILES = ("p50", "p95", "p99")


class _StatsCollector:
    def __init__(self, stats: Dict[str, Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        s = self.stats
        yield GaugeMetricFamily("edgeunet_stream_fps", "Processed frames per second over the run", value=float(s.get("fps", 0.0)))
        yield GaugeMetricFamily("edgeunet_stream_rolling_fps", "FPS over the last finished frames", value=float(s.get("rolling_fps", 0.0)))
        for name in ("frames", "captured", "dropped", "corrupt", "reconnects"):
            yield CounterMetricFamily(f"edgeunet_stream_{name}", f"Frames {name} since the start", value=float(s.get(name, 0)))
        yield GaugeMetricFamily("edgeunet_stream_viewers", "Viewers of the MJPEG stream now", value=float(s.get("viewers", 0)))
        latency = GaugeMetricFamily("edgeunet_stream_latency_ms", "Per-stage latency percentiles over the run (ms)",
                                    labels=["stage", "quantile"])
        for stage, summary in (s.get("stages") or {}).items():
            for q in QUANTILES:
                if q in summary:
                    latency.add_metric([stage, "0." + q[1:]], float(summary[q]))
        yield latency
        flicker = s.get("flicker_last_second")
        if flicker is not None:
            yield GaugeMetricFamily("edgeunet_stream_flicker_percent", "Pixels changing class between consecutive frames, "
                                    "mean over the last second (%)", value=float(flicker))


def prometheus_text(stats: Dict[str, Any]) -> bytes:
    """Prometheus exposition format (text 0.0.4) of one live-stats snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(stats))  # type: ignore[arg-type]  # a duck-typed Collector, as the library documents
    return generate_latest(registry)


def sparkline(recorder: Any, seconds: float = RECENT_S) -> Dict[str, Any]:
    """Per-second p50 of what the viewer waits for (capture-to-display when live, else end-to-end), last minute."""
    if recorder is None:
        return {"stage": END_TO_END, "values": []}
    stage = CAPTURE_TO_DISPLAY if recorder.recent(CAPTURE_TO_DISPLAY, 1.0e9) else END_TO_END
    samples = recorder.recent(stage, seconds)
    now = time.perf_counter()
    buckets: List[List[float]] = [[] for _ in range(int(seconds))]
    for t, ms in samples:
        slot = int(now - t)
        if 0 <= slot < len(buckets):
            buckets[len(buckets) - 1 - slot].append(ms)
    values: List[Optional[float]] = [round(float(np.median(b)), 2) if b else None for b in buckets]
    return {"stage": stage, "values": values}
