#!/usr/bin/env python3
"""Issue 7: how fast is each CPU variant, against the machine's own fp32 matmul peak, in one run.

Prints and writes (benchmarks/results/<machine>-<date>-cpu-int8.md + .json):
  * the fp32 matmul peak of this CPU with THREADS threads (ONNX Runtime's MatMul = MLAS, the library the
    fp32 rows run on; numpy's BLAS too, and the higher of the two is "peak"),
  * per variant (torch eager fp32, ORT fp32, ORT fp16, ORT int8 tensorrt-target, ORT int8 cpu-target):
    p50 latency, FPS, Dice on the model's validation split, achieved GFLOP/s (the model's Conv/ConvTranspose
    FLOPs / p50) and that as a fraction of the fp32 peak,
  * the ratios the issue asks for: int8-cpu / ORT fp32, best gated CPU variant / torch eager fp32.

All rows come from one `edgeunet bench` run (same input, same loop, same metrics), so the ratios are
measured under the same machine load. Usage:
  .venv/bin/python benchmarks/cpu_int8.py runs/isbi_w32/best.pt [--size 256] [--threads 2] [--iterations 50]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.bench.config import BenchConfig  # noqa: E402
from edgeunet.bench.run import run_bench  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "isbi2012-membrane" / "train"


def _matmul_session(threads: int, n: int, a_type: int, b_type: int, op: str, out_type: int) -> Any:
    import onnxruntime as ort
    from onnx import helper

    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info("a", a_type, [n, n]), helper.make_tensor_value_info("b", b_type, [n, n])],
        [helper.make_tensor_value_info("c", out_type, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def matmul_peak(threads: int, n: int = 1024, repeats: int = 20) -> Dict[str, float]:
    """Best-of-N rate of an n x n matmul: fp32 through ORT (MLAS) and numpy (BLAS), and int8 through ORT's
    MatMulInteger (uint8 x int8, the MLAS integer GEMM that QLinearConv also runs on). The int8 figure is the
    ceiling for any INT8 speed-up on this CPU: without VNNI it is about the fp32 rate."""
    from onnx import TensorProto

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    a_u8 = rng.integers(0, 256, (n, n), dtype=np.uint8)
    b_s8 = rng.integers(-127, 128, (n, n), dtype=np.int8)
    ops = 2.0 * n**3

    def best(run: Any) -> float:
        run()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        return ops / min(times) / 1e9

    fp32 = _matmul_session(threads, n, TensorProto.FLOAT, TensorProto.FLOAT, "MatMul", TensorProto.FLOAT)
    int8 = _matmul_session(threads, n, TensorProto.UINT8, TensorProto.INT8, "MatMulInteger", TensorProto.INT32)
    result = {"onnxruntime_mlas": best(lambda: fp32.run(None, {"a": a, "b": a}))}
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(threads):
            result["numpy_blas"] = best(lambda: a @ a)
    except ImportError:
        result["numpy_blas"] = best(lambda: a @ a)
    result["peak"] = max(result.values())
    result["int8_onnxruntime_gops"] = best(lambda: int8.run(None, {"a": a_u8, "b": b_s8}))
    return result


def conv_flops(onnx_path: Path) -> float:
    """FLOPs (2 x MACs) of every Conv and ConvTranspose for batch 1: where a UNet spends >95% of its time."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(onnx_path)))
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    weights = {init.name: numpy_helper.to_array(init).shape for init in model.graph.initializer}
    total = 0.0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        w = weights.get(node.input[1])
        if w is None:
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.op_type == "Conv":
            out = shapes[node.output[0]]
            total += 2.0 * out[1] * (w[1]) * w[2] * w[3] * out[2] * out[3]
        else:  # weight [Cin, Cout/group, kh, kw]; every input pixel scatters a kh x kw x Cout patch
            inp = shapes[node.input[0]]
            total += 2.0 * w[0] * w[1] * group * w[2] * w[3] * inp[2] * inp[3] / group
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--calib-images", type=int, default=24)
    parser.add_argument("--max-drop", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=None, help="results file stem (default benchmarks/results/<host>-<date>-cpu-int8)")
    args = parser.parse_args()

    command = " ".join([".venv/bin/python", "benchmarks/cpu_int8.py", *sys.argv[1:]])
    peak = matmul_peak(args.threads)
    print(f"fp32 matmul peak, {args.threads} threads: ONNX Runtime {peak['onnxruntime_mlas']:.1f} GFLOP/s, "
          f"numpy {peak['numpy_blas']:.1f} GFLOP/s; int8 (u8 x s8) ONNX Runtime {peak['int8_onnxruntime_gops']:.1f} GOP/s", flush=True)
    cfg = BenchConfig(
        models=[args.checkpoint], precisions=["fp32", "fp16", "int8", "int8-cpu"], backends=["torch", "onnxruntime"],
        data=args.data, calib_data=args.data, batches=[1], sizes=[args.size], warmup=args.warmup, iterations=args.iterations,
        threads=args.threads, device="cpu", calib_images=args.calib_images, val_split=True,
    )
    report = run_bench(cfg)
    rows = [r for r in report["rows"] if r["status"] == "ok"]
    fp32_onnx = next(Path(r["file"]) for r in rows if r["backend"] == "onnxruntime" and r["precision"] == "fp32")
    flops = conv_flops(fp32_onnx)
    by = {(r["backend"], r["precision"]): r for r in rows}
    torch_fp32, ort_fp32 = by.get(("torch", "fp32")), by.get(("onnxruntime", "fp32"))
    lines: List[str] = []
    header = "| variant | p50 ms | FPS | Dice (val) | drop | GFLOP/s | % of fp32 peak | x torch fp32 | x ORT fp32 |"
    lines += [header, "|" + "---|" * 9]
    for r in rows:
        p50 = r["latency_ms"]["p50"]
        gflops = flops / (p50 / 1000.0) / 1e9
        drop = (ort_fp32["dice"] - r["dice"]) if ort_fp32 and r["dice"] is not None else None
        vs_torch = torch_fp32["latency_ms"]["p50"] / p50 if torch_fp32 else None
        vs_ort = ort_fp32["latency_ms"]["p50"] / p50 if ort_fp32 else None
        r.update(gflops=round(gflops, 2), fraction_of_peak=round(gflops / peak["peak"], 4), dice_drop=drop,
                 x_torch_fp32=vs_torch, x_ort_fp32=vs_ort)
        lines.append(f"| {r['backend']} {r['precision']} | {p50:.1f} | {1000 / p50:.2f} | {r['dice']:.4f} | "
                     f"{'' if drop is None else f'{drop:+.4f}'} | {gflops:.1f} | {100 * gflops / peak['peak']:.1f}% | "
                     f"{'' if vs_torch is None else f'{vs_torch:.2f}'} | {'' if vs_ort is None else f'{vs_ort:.2f}'} |")
    gated = [r for r in rows if r["dice_drop"] is not None and r["dice_drop"] <= args.max_drop and r["backend"] == "onnxruntime"]
    best = max(gated, key=lambda r: r["fps"]) if gated else None
    cpu_int8 = by.get(("onnxruntime", "int8-cpu"))
    summary = {
        "int8_cpu_over_ort_fp32": cpu_int8["x_ort_fp32"] if cpu_int8 else None,
        "int8_cpu_dice_drop": cpu_int8["dice_drop"] if cpu_int8 else None,
        "best_gated_cpu_variant": f"{best['backend']} {best['precision']}" if best else None,
        "best_gated_over_torch_fp32": best["x_torch_fp32"] if best else None,
        "model_gflop": round(flops / 1e9, 3),
        "int8_peak_over_fp32_peak": round(peak["int8_onnxruntime_gops"] / peak["peak"], 3),
    }
    text = "\n".join(lines)
    print(text)
    print(json.dumps(summary, indent=2))
    host = socket.gethostname().split(".")[0]
    stem = args.out or REPO / "benchmarks" / "results" / f"{host}-{datetime.date.today().isoformat()}-cpu-int8"
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = [
        f"# CPU INT8 variants: {args.checkpoint.name}, {args.size}x{args.size}, batch 1, {args.threads} threads",
        "", f"Command: `{command}`", "",
        f"Machine: {platform.processor() or platform.machine()}, {report['machine'].get('cpu_count')} cores, "
        f"onnxruntime {report['machine'].get('onnxruntime')}. Date: {report['created']}.", "",
        f"fp32 matmul peak ({args.threads} threads, 1024^3, best of 20): ONNX Runtime/MLAS {peak['onnxruntime_mlas']:.1f} GFLOP/s, "
        f"numpy/BLAS {peak['numpy_blas']:.1f} GFLOP/s. int8 matmul (uint8 x int8, ONNX Runtime MatMulInteger): "
        f"{peak['int8_onnxruntime_gops']:.1f} GOP/s = {peak['int8_onnxruntime_gops'] / peak['peak']:.2f}x the fp32 peak, the ceiling "
        f"for any INT8 speed-up here. Model: {flops / 1e9:.2f} GFLOP (Conv + ConvTranspose) per image.", "",
        "Dice on the model's own validation split (6 ISBI images never trained on); drop is vs ORT fp32.", "",
        text, "", "```json", json.dumps(summary, indent=2), "```", "", report["timing_method"], "",
    ]
    Path(f"{stem}.md").write_text("\n".join(md))
    Path(f"{stem}.json").write_text(json.dumps({"peak_gflops": peak, "summary": summary, "report": report}, indent=2, default=str))
    print(f"wrote {stem}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
