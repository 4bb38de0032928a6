#!/usr/bin/env bash
# Issue 14 item 5: quantization-aware fine-tuning of a trained checkpoint, then its INT8 ONNX checked for TensorRT.
#   benchmarks/qat_finetune.sh runs/camvid_w16_240x320_stretch/best.pt [EPOCHS] [extra `edgeunet train` options]
# Runs `edgeunet train --qat --from CKPT --epochs EPOCHS` (data, split and seed come from the checkpoint's run; the
# run goes to RUN-qat/ and ends with RUN-qat/best.int8.onnx, gated against RUN-qat/source.fp32.onnx), then
# `edgeunet inspect --trt 10.3 --strict` on the result. Prints wall and CPU time (GNU time).
# To compare with PTQ afterwards (RUN-qat/best.int8.onnx is what camvid_int8.py's --qat-onnx takes):
#   edgeunet bench RUN/best.pt --precisions fp32,int8,int8-modelopt,int8-qat --qat RUN-qat/best.int8.onnx --data VAL
#   benchmarks/camvid_int8.py RUN/best.onnx --calib CAL --val VAL --out OUT --qat-onnx RUN-qat/best.int8.onnx \
#       --modelopt-onnx RUN/best.int8-modelopt.onnx        # the latter from benchmarks/modelopt_ptq.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CKPT=${1:?usage: benchmarks/qat_finetune.sh RUN/best.pt [EPOCHS] [train options]}
EPOCHS=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
OUT=${OUT:-$(dirname "$CKPT")-qat}
echo "load before: $(cat /proc/loadavg)"
/usr/bin/time -v "$PY" -m edgeunet train --qat --from "$CKPT" --epochs "$EPOCHS" --out "$OUT" "$@" \
  2> >(grep -E "Elapsed|User time|System time|Maximum resident|rror" >&2)
echo "load after: $(cat /proc/loadavg)"
"$PY" -m edgeunet inspect "$OUT/best.int8.onnx" --trt 10.3 --strict --json "$OUT/inspect.json"
