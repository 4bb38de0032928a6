"""bench.timing: percentiles and the warm-up-then-time loop."""

from __future__ import annotations

from typing import List

import numpy as np
import pytest

from edgeunet.bench import timing


def test_summarize_percentiles() -> None:
    stats = timing.summarize(list(range(1, 101)))
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["mean"] == pytest.approx(50.5)


def test_time_backend_counts_runs_after_warmup() -> None:
    calls: List[int] = []
    lat = timing.time_backend(lambda x: calls.append(1), np.zeros(1), warmup=3, iterations=5, duration=None)
    assert len(lat) == 5 and len(calls) == 8
    assert timing.time_backend(lambda x: None, np.zeros(1), warmup=0, iterations=None, duration=0.01)


def test_rss_sampler_records_a_peak() -> None:
    with timing.RssSampler(interval=0.001) as rss:
        pass
    assert rss.peak_mb > 0


def test_timing_method_names_the_run_count() -> None:
    from edgeunet.bench.config import BenchConfig

    assert "7 timed runs" in timing.timing_method(BenchConfig(models=[], warmup=2, iterations=7))
    assert "0.5 s of timed runs" in timing.timing_method(BenchConfig(models=[], iterations=None, duration=0.5))
