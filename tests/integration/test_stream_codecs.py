"""The GStreamer decode/encode pipelines run for real, with the software elements standing in for NVDEC/NVENC.

The strings come from the same functions as on a Jetson (edgeunet.stream.codecs); only the element names
differ (avdec_h264 for nvv4l2decoder, x264enc for nvv4l2h264enc). Skips, with the reason, where OpenCV has no
GStreamer (pip's opencv-python wheels never do) or GStreamer lacks an element (`make setup-rtsp` installs them).
Runs in a child process: GStreamer loaded into pytest's own process made a later torch.onnx.export abort.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgeunet.stream.codecs import opencv_has

SOFTWARE = ("appsrc", "videoconvert", "x264enc", "h264parse", "qtmux", "filesink", "filesrc", "qtdemux", "avdec_h264", "appsink")


def _problem() -> str:
    if not opencv_has("GStreamer"):
        return "this OpenCV has no GStreamer (pip's opencv-python wheels never do; use the system's python3-opencv)"
    if shutil.which("gst-inspect-1.0") is None:
        return "gst-inspect-1.0 not found (make setup-rtsp)"
    missing = [e for e in SOFTWARE if subprocess.run(["gst-inspect-1.0", e], capture_output=True, timeout=30).returncode != 0]
    return f"GStreamer lacks {', '.join(missing)} (make setup-rtsp)" if missing else ""


PROBLEM = _problem()
pytestmark = pytest.mark.skipif(bool(PROBLEM), reason=PROBLEM)

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from edgeunet.stream import sinks, video_sink
    from edgeunet.stream.capture import HardwareOpener, VideoCaptureSource
    from edgeunet.stream.codecs import CodecChoice, decode_pipeline, encode_pipeline
    from edgeunet.stream.sources import END, OK, parse_source

    out = sys.argv[1]
    video_sink.machine_encoder = lambda path, fps: CodecChoice("x264enc", encode_pipeline(path, "x264enc", fps))
    sink = sinks.make_sink(out, fps=10).open()
    for i in range(12):
        sink.write(np.full((120, 160, 3), 20 * i, np.uint8), i)
    sink.close()
    print("encode", sink.codec)
    choice = CodecChoice("avdec_h264", decode_pipeline(out, "h264", "avdec_h264"))
    source = VideoCaptureSource(parse_source(out), HardwareOpener(choice, lambda: None), "a video file", "", None).open()
    frames = []
    while True:
        status, frame, _ = source.read()
        if status != OK:
            break
        frames.append(frame.shape)
    print("decode", source.codec, len(frames), frames[0])
""")


def test_software_twins_of_the_jetson_pipelines_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "round.mp4"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "encode x264enc (GStreamer)" in proc.stdout
    assert "decode avdec_h264 (GStreamer) 12 (120, 160, 3)" in proc.stdout
    assert out.is_file() and not list(tmp_path.glob(".*partial*"))
