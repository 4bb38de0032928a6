#!/usr/bin/env python3
"""Issue 14 item 6: NVIDIA ModelOpt's ONNX PTQ of an fp32 ONNX, beside edgeunet's own calibration, on the same images.

Writes MODEL.int8-modelopt.onnx (and, with --also-edgeunet, MODEL.int8.onnx) with the calibration manifests under
--manifest-dir, gates each against the fp32 model on its validation split (or --val-data), and prints one line per
engine: Q/DQ pairs, Conv/ConvTranspose left float, gate Dice. The CamVid benchmark calls it after export:
  .venv/bin/python benchmarks/modelopt_ptq.py runs/camvid/best.onnx --calib DATA/train [--val-data DATA/val] \
      [--num-images 64] [--method entropy|minmax] [--also-edgeunet]
Same code as `edgeunet calibrate MODEL --data CAL --engine modelopt`; the script only runs both engines in one go.
MODEL.int8-modelopt.onnx is what `benchmarks/camvid_int8.py --modelopt-onnx` takes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeunet.core.errors import EdgeUnetError  # noqa: E402
from edgeunet.export.inspect import count_qdq  # noqa: E402
from edgeunet.export.int8 import Int8Options, quantize_and_gate  # noqa: E402
from edgeunet.export.quantize import default_output  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="fp32 ONNX written by `edgeunet export`")
    parser.add_argument("--calib", type=Path, required=True, help="calibration images (DIR or DIR/images)")
    parser.add_argument("--val-data", type=Path, default=None, help="labelled folder for the gate (default: the model's val split)")
    parser.add_argument("--num-images", type=int, default=64)
    parser.add_argument("--method", choices=("entropy", "minmax"), default="entropy")
    parser.add_argument("--max-drop", type=float, default=0.01)
    parser.add_argument("--manifest-dir", type=Path, default=Path("calibration"))
    parser.add_argument("--also-edgeunet", action="store_true", help="also run edgeunet's own calibration for the comparison")
    args = parser.parse_args()
    engines = ["modelopt", "edgeunet"] if args.also_edgeunet else ["modelopt"]
    status = 0
    for engine in engines:
        out = default_output(args.model, "int8-modelopt" if engine == "modelopt" else "int8")
        try:
            options = Int8Options(val_data=args.val_data, max_drop=args.max_drop, num_images=args.num_images, method=args.method,
                                  manifest_dir=args.manifest_dir, engine=engine)
            calib, gate = quantize_and_gate(args.model, args.calib, out, options)
        except EdgeUnetError as exc:
            print(f"{engine}: {exc}", file=sys.stderr)
            status = exc.exit_code
            continue
        print(f"{engine}: {calib.onnx_path} {count_qdq(calib.onnx_path).text()}, {len(calib.float_nodes)} conv(s) float; "
              f"{gate.line() if gate else 'not gated'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
