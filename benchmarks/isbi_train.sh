#!/usr/bin/env bash
# Issue 2, acceptance 2: width-16 UNet on ISBI 2012 membranes (membrane = positive class, pixel value 0),
# 24 train / 6 val (seed 0), 256x256, on the CPU. Prints wall and CPU time; the curve is RUN/curves.png.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/isbi2012-membrane/train}
OUT=${OUT:-runs/isbi_w16}
EPOCHS=${EPOCHS:-80}
/usr/bin/time -v .venv/bin/edgeunet train --data "$DATA" --positive-value 0 --val-ratio 0.2 --seed 0 \
  --width 16 --size 256 --epochs "$EPOCHS" --batch-size 4 --lr 3e-3 --patience 25 --device cpu --out "$OUT" "$@" \
  2> >(grep -E "Elapsed|User time|System time|Maximum resident|error" >&2)
.venv/bin/edgeunet evaluate "$OUT/best.pt" --data "$DATA" --json "$OUT/evaluate_all30.json"
