"""`edgeunet bench` end to end on the tiny run: rows, reports, recommendation, floor, TensorRT 'unavailable'."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import assert_user_error, run_cli


def test_bench_rows_reports_and_choose(tiny_run: Path, synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "bench", tiny_run / "best.pt", "--precisions", "fp32,fp16,int8,int8-cpu", "--backends", "torch,onnxruntime,tensorrt",
        "--data", synth_data, "--eval-images", "4", "--calib-images", "4", "--warmup", "1", "--iterations", "3",
        "--cache", tmp_path / "cache", "--json", out / "b.json", "--csv", out / "b.csv", "--md", out / "b.md",
        "--plot", out / "b.png", "--choose", "--max-drop", "0.05",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "b.json").read_text())
    rows = {(r["backend"], r["precision"]): r for r in report["rows"]}
    assert len(rows) == 12
    for key in [("torch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "fp16"), ("onnxruntime", "int8"), ("onnxruntime", "int8-cpu")]:
        row = rows[key]
        assert row["status"] == "ok", row
        assert row["dice"] is not None and row["fps"] > 0 and row["latency_ms"]["p99"] >= row["latency_ms"]["p50"]
    for precision in ("fp32", "fp16", "int8"):
        trt = rows[("tensorrt", precision)]
        assert trt["status"] == "unavailable" and "TensorRT" in trt["reason"]
    assert rows[("tensorrt", "int8-cpu")]["status"] == "unavailable" and "cpu-target" in rows[("tensorrt", "int8-cpu")]["reason"]
    assert rows[("torch", "int8-cpu")]["status"] == "unavailable"
    assert rows[("torch", "fp16")]["status"] == "unavailable" and "CUDA" in rows[("torch", "fp16")]["reason"]
    assert "unavailable" in proc.stdout and "Timing:" in proc.stdout
    assert (out / "b.png").stat().st_size > 0 and (out / "b.csv").is_file() and "| backend |" in (out / "b.md").read_text()
    rec = json.loads((out / "recommended.json").read_text())
    assert rec["recommended"]["dice_drop"] <= 0.05

    # Second run: variants come from the cache; a floor above the best Dice fails with one line.
    best = max(r["dice"] for r in report["rows"] if r["dice"] is not None)
    proc = run_cli("bench", tiny_run / "best.pt", "--backends", "onnxruntime", "--precisions", "fp32", "--data", synth_data,
                   "--eval-images", "4", "--warmup", "0", "--iterations", "2", "--cache", tmp_path / "cache",
                   "--min-dice", f"{min(best + 0.01, 1.0):.4f}")
    assert_user_error(proc, "--min-dice")


def test_bench_bad_input_is_one_line(tmp_path: Path) -> None:
    assert_user_error(run_cli("bench", tmp_path / "missing.pt"), "no such model file")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    assert_user_error(run_cli("bench", model, "--precisions", "fp8"), "--precisions")
    assert_user_error(run_cli("bench", model, "--choose"), "--data")


def test_val_split_scores_the_same_images_from_checkpoint_and_onnx(tiny_run: Path, tiny_onnx: Path, synth_data: Path) -> None:
    """--val-split: a .pt and its export name the same held-out images (one split recorded by training)."""
    from edgeunet.bench.config import BenchConfig
    from edgeunet.bench.run import scoring_samples

    cfg = BenchConfig(models=[tiny_run / "best.pt"], data=synth_data, val_split=True)
    from_checkpoint = scoring_samples(tiny_run / "best.pt", cfg)
    from_onnx = scoring_samples(tiny_onnx, cfg)
    assert from_checkpoint and from_checkpoint == from_onnx
    assert len(from_checkpoint) < len(scoring_samples(tiny_run / "best.pt", BenchConfig(models=[], data=synth_data)) or [])


def test_fallback_rows_and_the_speed_cost_of_each_float_layer(tiny_onnx: Path, synth_data: Path, tmp_path: Path) -> None:
    """Issue 14: `bench --fallback` shows the fallback file's rows and what each of its float layers costs in time."""
    import onnx

    convs = [n.name for n in onnx.load(str(tiny_onnx)).graph.node if n.op_type == "Conv"][:2]
    kept = tmp_path / "kept.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, "--data", synth_data / "images", "--out", kept, "--num-images", "4", "--no-gate",
                   "--manifest-dir", tmp_path / "cal", "--keep-float", ",".join(convs), "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    proc = run_cli("bench", tiny_onnx, "--backends", "onnxruntime,tensorrt", "--precisions", "fp32", "--fallback", kept,
                   "--data", synth_data, "--eval-images", "2", "--calib-images", "4", "--warmup", "1", "--iterations", "3",
                   "--cache", tmp_path / "cache", "--json", out / "b.json", "--md", out / "b.md")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "b.json").read_text())
    rows = {(r["backend"], r["precision"]): r for r in report["rows"]}
    fallback = rows[("onnxruntime", "int8-fallback")]
    assert fallback["status"] == "ok" and fallback["float_layers"] == convs and fallback["dice"] is not None
    assert rows[("onnxruntime", "int8")]["status"] == "ok"  # added: the all-INT8 row the costs are read against
    costs = [c for c in report["float_layer_costs"] if c["backend"] == "onnxruntime"]
    assert sorted(c["layer"] for c in costs[:2]) == sorted(convs) and costs[2]["layer"] == "all 2 together"
    for cost in costs:
        assert cost["status"] == "ok" and cost["p50_ms"] > 0 and cost["cost_ms"] == round(cost["p50_ms"] - cost["int8_p50_ms"], 4)
    assert costs[0]["cost_ms"] >= costs[1]["cost_ms"]  # dearest first
    trt = [c for c in report["float_layer_costs"] if c["backend"] == "tensorrt"]
    assert len(trt) == 1 and trt[0]["status"] == "unavailable" and "TensorRT" in trt[0]["reason"]  # one line, not one per layer
    assert "speed cost of each float layer" in proc.stdout and "## Speed cost of each float layer" in (out / "b.md").read_text()

    # A file without float layers, or none at all: one line each.
    plain = tmp_path / "plain.int8.onnx"
    proc = run_cli("calibrate", tiny_onnx, "--data", synth_data / "images", "--out", plain, "--num-images", "4", "--no-gate",
                   "--manifest-dir", tmp_path / "cal2", "--method", "minmax")
    assert proc.returncode == 0, proc.stderr
    assert_user_error(run_cli("bench", tiny_onnx, "--fallback", plain, "--cache", tmp_path / "cache"), "records no float layers")
    assert_user_error(run_cli("bench", tiny_onnx, "--fallback", tmp_path / "none.onnx"), "--fallback")
    assert_user_error(run_cli("bench", tiny_onnx, "--precisions", "int8-fallback"), "needs --fallback")
