#!/usr/bin/env bash
# Issue 13: ISBI membranes, native-scale crops (--crop 256 on the 512x512 images, whole-image validation) against
# today's squeeze (--size 256), same split (seeded 24/6), same epochs, same seed. Both are scored by `edgeunet
# evaluate` on the 6 held-out images at their full 512x512 (the size-256 model's masks are resized back).
#   EPOCHS=40 benchmarks/isbi_crop_vs_size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data/isbi2012-membrane/train}
SPLIT=${SPLIT:-/tmp/isbi-split-seed0}
EPOCHS=${EPOCHS:-40}
OUT=${OUT:-runs/isbi_crop_vs_size}
"$PY" benchmarks/camvid_split.py "$DATA" "$SPLIT" 0  # the same seeded 80/20 split, written as symlinks
for variant in "size --size 256" "crop --crop 256"; do
  read -r name option value <<<"$variant"
  echo "== $name ($option $value), $EPOCHS epochs; load before: $(cat /proc/loadavg)"
  /usr/bin/time -v "$PY" -m edgeunet train --data "$SPLIT/train" --val-data "$SPLIT/val" --positive-value 0 --seed 0 \
    --width 16 "$option" "$value" --epochs "$EPOCHS" --batch-size 4 --lr 3e-3 --patience 0 --device cpu \
    --snapshot-samples 0 --out "$OUT/$name" "$@" \
    2> >(grep -E "Elapsed|User time|System time|error" >&2) | tail -n 2
  "$PY" -m edgeunet evaluate "$OUT/$name/best.pt" --data "$SPLIT/val" --json "$OUT/$name/evaluate_val.json" | tail -n 3
done
