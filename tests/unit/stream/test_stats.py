"""The latency recorder shared by stream and bench: percentiles, bounded memory, counters, JSON."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from edgeunet.bench import run as bench
from edgeunet.stream import stats
from edgeunet.stream.stats import END_TO_END, STAGES, LatencyRecorder, Samples, summarize


def test_summarize_matches_numpy_linear_percentiles() -> None:
    values = np.random.default_rng(0).gamma(2.0, 5.0, 1001)
    s = summarize(values)
    assert s["p50"] == pytest.approx(np.percentile(values, 50))
    assert s["p99"] == pytest.approx(np.percentile(values, 99))
    assert s["mean"] == pytest.approx(values.mean()) and s["max"] == values.max() and s["min"] == values.min()
    with pytest.raises(ValueError):
        summarize([])


def test_bench_uses_the_same_summary() -> None:
    values = list(np.linspace(1, 100, 257))
    assert bench.summarize(values) == stats.summarize(values)


def test_samples_are_bounded_but_count_mean_max_stay_exact() -> None:
    samples = Samples(cap=1000, seed=1)
    values = np.random.default_rng(1).uniform(0, 100, 50_000)
    for v in values:
        samples.add(float(v))
    s = samples.summary()
    assert samples.kept == 1000 and samples.values.nbytes == 8000  # 8 kB, however long the camera runs
    assert s["count"] == 50_000
    assert s["mean"] == pytest.approx(values.mean())
    assert s["max"] == pytest.approx(values.max()) and s["min"] == pytest.approx(values.min())
    assert s["p50"] == pytest.approx(50, abs=5) and s["p99"] == pytest.approx(99, abs=2)  # reservoir: unbiased


def test_recorder_dict_has_every_stage_percentile_and_counters() -> None:
    rec = LatencyRecorder()
    rec.start()
    for i in range(20):
        for stage in STAGES:
            rec.add(stage, 1.0 + i)
        rec.add(END_TO_END, 10.0 + i)
        rec.frame_done()
    rec.count("dropped", 3)
    rec.count("corrupt")
    time.sleep(0.01)
    rec.stop()
    d = json.loads(json.dumps(rec.to_dict()))
    assert d["frames"] == 20 and d["dropped"] == 3 and d["corrupt"] == 1 and d["fps"] > 0
    for stage in (*STAGES, END_TO_END):
        for key in ("mean", "p50", "p95", "p99", "max", "count"):
            assert key in d["stages"][stage], (stage, key)
    assert d["stages"][END_TO_END]["p50"] == pytest.approx(19.5)
    assert rec.rolling_fps() > 0
    rows = rec.table_rows()
    assert rows[-1][0] == "end-to-end" and rows[0][0] == "capture/decode"
    assert "20 frames processed" in rec.counters_line()


def test_empty_stage_reports_zero_count() -> None:
    rec = LatencyRecorder()
    assert rec.summary()["inference"] == {"count": 0}
    assert rec.fps == 0.0
