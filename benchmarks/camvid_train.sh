#!/usr/bin/env bash
# Issue 13: CamVid (11 real classes, void = 11 ignored, median-frequency class weights), width-16 UNet on the CPU.
# Seeded 80/20 split of the 367 frames (benchmarks/camvid_split.py, symlinks under $SPLIT), trained with
# benchmarks/camvid_train.yaml, then `edgeunet evaluate` of best.pt on the held-out 20% at full 480x360.
#   benchmarks/camvid_train.sh                                  # rectangular 176x240 (the recipe), 38 epochs, EMA
#   SIZE=256 EPOCHS=24 OUT=runs/camvid_square benchmarks/camvid_train.sh   # square, side by side (same pixels seen)
# 38 epochs of 294 frames at 176x240 (batch 4) take ~29 minutes on 2 quiet AVX2 cores (7.2 img/s); EPOCHS scales it.
# Prints wall and CPU time (GNU time) and the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}  # e.g. PY=/work/main/.venv/bin/python PYTHONPATH=$PWD
DATA=${DATA:-../shared/data/camvid-train}
SPLIT=${SPLIT:-/tmp/camvid-split-seed0}
SIZE=${SIZE:-176x240}
RESIZE=${RESIZE:-stretch}
EPOCHS=${EPOCHS:-38}
OUT=${OUT:-runs/camvid_w16_${SIZE}_${RESIZE}}
"$PY" benchmarks/camvid_split.py "$DATA" "$SPLIT" 0
echo "load before: $(cat /proc/loadavg)"
/usr/bin/time -v "$PY" -m edgeunet train --config benchmarks/camvid_train.yaml --data "$SPLIT/train" --val-data "$SPLIT/val" \
  --size "$SIZE" --resize "$RESIZE" --epochs "$EPOCHS" --device cpu --out "$OUT" "$@" \
  2> >(grep -E "Elapsed|User time|System time|Maximum resident|error" >&2)
echo "load after: $(cat /proc/loadavg)"
"$PY" -m edgeunet evaluate "$OUT/best.pt" --data "$SPLIT/val" --json "$OUT/evaluate_val.json" --confusion "$OUT/confusion.png"
