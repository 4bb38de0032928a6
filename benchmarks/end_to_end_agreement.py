"""Mask agreement of an end-to-end ONNX with the CPU path on real video frames at camera resolution (ONNX Runtime).

    python benchmarks/end_to_end_agreement.py runs/camvid/best.onnx ../shared/data/video/vtest.avi --resolution 1080p --frames 20

The network ONNX is wrapped in memory (export/end_to_end.py, the graph `export --end-to-end` writes), the video's
frames are upscaled to the resolution with cv2 INTER_LINEAR (as benchmarks/stream_pipeline.py does), and each frame
goes through both: the end-to-end graph, and preprocess -> network -> postprocess. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from edgeunet.core.onnx_model import read_model
from edgeunet.export.end_to_end import FrameOptions, wrap
from edgeunet.export.end_to_end_export import cpu_agreement

RESOLUTIONS = {"720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}


def video_frames(path: Path, size: tuple, count: int, step: int) -> list:
    capture = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_LINEAR))
        index += 1
    capture.release()
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="network ONNX (float I/O, written by `edgeunet export`)")
    parser.add_argument("video", type=Path)
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="1080p")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--step", type=int, default=20, help="use every STEP-th frame of the video")
    args = parser.parse_args()
    network, _, spec = read_model(args.model)
    size = RESOLUTIONS[args.resolution]
    frames = video_frames(args.video, size, args.frames, args.step)
    model = wrap(network, spec, FrameOptions(size))
    start = time.perf_counter()
    per_frame = [cpu_agreement(model, network, spec, [frame]) for frame in frames]
    print(json.dumps({"model": str(args.model), "classes": spec.num_classes, "network": spec.input_size, "resolution": list(size),
                      "frames": len(frames), "mask_agreement": float(np.mean(per_frame)), "worst_frame": float(np.min(per_frame)),
                      "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
