#!/usr/bin/env bash
# Issue 24: leave-one-sequence-out on CamVid's three training sequences (0001TP 62, 0006R0 101, 0016E5 204 frames).
# Each fold trains on two sequences and is scored by `edgeunet evaluate` on the third at full 480x360 (11 classes,
# void ignored); the figure is the mean mIoU of the three folds. Baseline = today's recipe (benchmarks/camvid_train.yaml,
# 176x240 stretch, 38 epochs); a tried change is extra `edgeunet train` options or another RECIPE file:
#   benchmarks/camvid_loso.sh                                    # baseline, ~3 x 30 CPU-minutes on 2 cores
#   NAME=lovasz benchmarks/camvid_loso.sh --loss lovasz           # a variant, its own results file
#   RANDOM_FOLD=1 benchmarks/camvid_loso.sh                      # + the seeded random 80/20 split, beside (the leak)
#   FOLDS="0001TP" EPOCHS=1 DATA=/tmp/camvid-tiny benchmarks/camvid_loso.sh   # smoke test
# CPU-seconds per fold (user + system, GNU time) against the 30-minute 2-core budget (3600 CPU-s); the CPU model and
# ISA flags go into the results: benchmarks/results/camvid-loso-NAME-DATE.md (+ .json), written by camvid_loso.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}  # e.g. PY=/work/main/.venv/bin/python PYTHONPATH=$PWD
DATA=${DATA:-../shared/data/camvid-train}
RECIPE=${RECIPE:-benchmarks/camvid_train.yaml}
SIZE=${SIZE:-176x240}
RESIZE=${RESIZE:-stretch}
EPOCHS=${EPOCHS:-38}
NAME=${NAME:-baseline}
FOLDS=${FOLDS:-0001TP 0006R0 0016E5}
OUT=${OUT:-runs/camvid_loso/$NAME}
RESULTS=${RESULTS:-benchmarks/results}
SPLITS=${SPLITS:-/tmp/camvid-loso}
[[ "${RANDOM_FOLD:-0}" == 1 ]] && FOLDS="$FOLDS random"
mkdir -p "$OUT"
for fold in $FOLDS; do
  if [[ "$fold" == random ]]; then split_args=(--split-by random); else split_args=(--split-by sequence --val-groups "$fold"); fi
  "$PY" benchmarks/camvid_split.py "$DATA" "$SPLITS/$fold" 0 "${split_args[@]}"
  echo "== fold $fold ($NAME), $EPOCHS epochs; load before: $(cat /proc/loadavg)"
  /usr/bin/time -o "$OUT/time-$fold.txt" -f "%U %S %e %M" "$PY" -m edgeunet train --config "$RECIPE" --data "$SPLITS/$fold/train" \
    --val-data "$SPLITS/$fold/val" --size "$SIZE" --resize "$RESIZE" --epochs "$EPOCHS" --device cpu --out "$OUT/$fold" "$@"
  echo "load after: $(cat /proc/loadavg); user sys wall(s) maxRSS(kB): $(cat "$OUT/time-$fold.txt")"
  "$PY" -m edgeunet evaluate "$OUT/$fold/best.pt" --data "$SPLITS/$fold/val" --json "$OUT/evaluate-$fold.json"
done
"$PY" benchmarks/camvid_loso.py "$OUT" --name "$NAME" --results "$RESULTS" --command "benchmarks/camvid_loso.sh $*" \
  --setting "recipe $RECIPE, size $SIZE $RESIZE, $EPOCHS epochs, data $DATA"
