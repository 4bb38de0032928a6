"""Backend x precision x batch benchmarks with accuracy beside speed.

config (BenchConfig, Row, option parsing) -> variants (the file each row runs, derived and cached) ->
timing (warm-up, timed runs, percentiles, peak RSS) -> run (the row loop and `edgeunet bench`) ->
report (table, JSON, CSV, Markdown, chart) and decide (--min-dice, --choose, INT8 notes).
"""
