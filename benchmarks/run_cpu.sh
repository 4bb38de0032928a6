#!/usr/bin/env bash
# Issue 5: the CPU matrix. ISBI 2012 membranes, widths 16 and 32, sizes 256 and 512, torch / ONNX Runtime x fp32 / fp16 / int8,
# batch 1 and 4, Dice on the 30 labelled images, pipeline FPS on vtest.avi (when edgeunet.stream.pipeline is installed).
# Models: runs/isbi_w16/best.pt and runs/isbi_w32/best.pt when present, otherwise trained here (EPOCHS, default 12).
# Output: benchmarks/results/<machine>-<date>.md (+ .json, .csv, .png) with the exact commands.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/isbi2012-membrane/train}
VIDEO=${VIDEO:-../shared/data/video/vtest.avi}
EPOCHS=${EPOCHS:-12}
ITERS=${ITERS:-50}
WARMUP=${WARMUP:-10}
BATCH=${BATCH:-1,4}
MACHINE=${MACHINE:-$(hostname -s)-cpu}
STAMP=$(date +%Y-%m-%d)
RESULTS=benchmarks/results
BASE="$RESULTS/$MACHINE-$STAMP"
mkdir -p "$RESULTS"
EU=.venv/bin/edgeunet

models=()
for width in 16 32; do
  run="runs/isbi_w$width"
  if [ ! -f "$run/best.pt" ]; then
    echo "training $run ($EPOCHS epochs; set EPOCHS to change)"
    $EU train --data "$DATA" --positive-value 0 --val-ratio 0.2 --seed 0 --width "$width" --size 256 \
      --epochs "$EPOCHS" --batch-size 4 --lr 3e-3 --device cpu --out "$run"
  fi
  models+=("$run/best.pt")
done

video_args=()
[ -f "$VIDEO" ] && video_args=(--video "$VIDEO")
cmd=("$EU" bench "${models[@]}" --precisions "fp32,fp16,int8,int8-cpu" --backends "torch,onnxruntime,tensorrt" --size "256,512"
     --batch "$BATCH" --data "$DATA" "${video_args[@]}" --device cpu --warmup "$WARMUP" --iterations "$ITERS"
     --json "$BASE.json" --csv "$BASE.csv" --md "$BASE.md" --plot "$BASE.png" --choose --max-drop 0.01
     --recommend-out "$BASE.recommended.json")
echo "${cmd[*]}"
"${cmd[@]}"
echo "results: $BASE.md"
