#!/usr/bin/env bash
# Issue 14 on CamVid: every INT8 route for the model of benchmarks/camvid_train.sh, in one table.
#   benchmarks/camvid_int8.sh [RUN] [QAT_EPOCHS]      # RUN defaults to runs/camvid_w16_176x240_stretch
# export -> QAT fine-tune (train --qat) -> ModelOpt ONNX PTQ -> camvid_int8.py (fp32, PTQ entropy / percentile 99.99 /
# percentile 90, fallback auto after each, QAT, ModelOpt; CPU latency of the Q/DQ and QLinear graphs) -> results
# (Markdown, JSON, sensitivity reports) copied to benchmarks/results/camvid-int8/. Same split as the training (by sequence).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUN=${1:-runs/camvid_w16_176x240_stretch}
QAT_EPOCHS=${2:-3}
SPLIT=${SPLIT:-/tmp/camvid-split-sequence-seed0}
WORK=${WORK:-runs/camvid-int8}
RESULTS=${RESULTS:-benchmarks/results/camvid-int8}
"$PY" benchmarks/camvid_split.py "${DATA:-../shared/data/camvid-train}" "$SPLIT" 0 --split-by "${SPLIT_BY:-sequence}"
"$PY" -m edgeunet export "$RUN/best.pt" --out "$RUN/best.onnx" --parity-data "$SPLIT/val"
OUT="$RUN-qat" benchmarks/qat_finetune.sh "$RUN/best.pt" "$QAT_EPOCHS" --data "$SPLIT/train" --val-data "$SPLIT/val"
"$PY" benchmarks/modelopt_ptq.py "$RUN/best.onnx" --calib "$SPLIT/train/images" --val-data "$SPLIT/val"
"$PY" benchmarks/camvid_int8.py "$RUN/best.onnx" --calib "$SPLIT/train/images" --val "$SPLIT/val" --out "$WORK" \
  --qat-onnx "$RUN-qat/best.int8.onnx" --modelopt-onnx "$RUN/best.int8-modelopt.onnx" --threads "${THREADS:-2}"
mkdir -p "$RESULTS"
cp "$WORK"/camvid-int8.md "$WORK"/camvid-int8.json "$WORK"/sensitivity-*.md "$WORK"/sensitivity-*.png "$RESULTS"/
echo "results in $RESULTS"
