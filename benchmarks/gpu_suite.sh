#!/usr/bin/env bash
# Issue 5, acceptance 5: for a machine with an NVIDIA GPU (PyTorch with CUDA; onnxruntime-gpu and TensorRT if present).
#   1. torch CUDA fp32 / fp16, ONNX Runtime (CUDA provider when installed, else CPU) fp32 / fp16 / int8, TensorRT rows
#      (built through `edgeunet build-engine`'s code when TensorRT is installed, otherwise "unavailable: <reason>").
#   2. torch CUDA graphs vs eager (scripted below: bench has no CUDA-graph backend).
#   3. stream over vtest.avi with the fastest GPU backend (bench --video, when edgeunet.stream.pipeline is installed).
# Output: benchmarks/results/<machine>-<date>.md (+ .json/.csv/.png), with the exact commands.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
EU="$PY -m edgeunet"
DATA=${DATA:-../shared/data/isbi2012-membrane/train}
VIDEO=${VIDEO:-../shared/data/video/vtest.avi}
EPOCHS=${EPOCHS:-12}
ITERS=${ITERS:-200}
MACHINE=${MACHINE:-$(hostname -s)-$($PY -c "import torch;print(torch.cuda.get_device_name(0).split()[-1] if torch.cuda.is_available() else 'nogpu')")}
STAMP=$(date +%Y-%m-%d)
BASE="benchmarks/results/$MACHINE-$STAMP"
mkdir -p benchmarks/results
$PY -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_suite.sh needs PyTorch with CUDA')"

MODEL=runs/isbi_w32/best.pt
if [ ! -f "$MODEL" ]; then
  $EU train --data "$DATA" --positive-value 0 --val-ratio 0.2 --seed 0 --width 32 --size 256 --epochs "$EPOCHS" \
    --batch-size 8 --lr 3e-3 --device cuda --amp --out runs/isbi_w32
fi
video_args=()
[ -f "$VIDEO" ] && video_args=(--video "$VIDEO")
cmd=("$EU" bench "$MODEL" --precisions "fp32,fp16,int8" --backends "torch,onnxruntime,tensorrt" --size "256,512" --batch "1,8"
     --data "$DATA" "${video_args[@]}" --device auto --warmup 50 --iterations "$ITERS"
     --json "$BASE.json" --csv "$BASE.csv" --md "$BASE.md" --plot "$BASE.png" --choose --recommend-out "$BASE.recommended.json")
echo "${cmd[*]}"
"${cmd[@]}"

# CUDA graphs: capture one forward pass and replay it (what a fixed-shape deployment can do), same timing rule.
graphs=$($PY - "$MODEL" <<'PYEOF'
import sys, time, torch, numpy as np
from edgeunet.model.checkpoint import load_checkpoint, build_model, spec_of
payload = load_checkpoint(sys.argv[1]); rows = []
channels = spec_of(payload, sys.argv[1]).in_channels
for half in (False, True):
    model = build_model(payload).cuda().eval(); model = model.half() if half else model
    x = torch.randn(1, channels, 256, 256, device="cuda",
                    dtype=torch.float16 if half else torch.float32)
    with torch.inference_mode():
        s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(20): model(x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g): y = model(x)
        for mode, fn in (("eager", lambda: model(x)), ("cuda-graph", g.replay)):
            for _ in range(50): fn()
            torch.cuda.synchronize(); lat = []
            for _ in range(500):
                t = time.perf_counter(); fn(); torch.cuda.synchronize(); lat.append((time.perf_counter() - t) * 1e3)
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            rows.append(f"| torch {'fp16' if half else 'fp32'} {mode} | {np.mean(lat):.3f} | {p50:.3f} | {p95:.3f} | {p99:.3f} | {1e3/np.mean(lat):.1f} |")
print("\n".join(rows))
PYEOF
)
{
  echo; echo "## torch CUDA graphs vs eager (batch 1, 256x256, 50 warm-up + 500 timed replays, device-side sync each run; no H2D/D2H)"
  echo; echo "| variant | mean ms | p50 ms | p95 ms | p99 ms | FPS |"; echo "|---|---|---|---|---|---|"; echo "$graphs"
} >> "$BASE.md"
echo "results: $BASE.md"
