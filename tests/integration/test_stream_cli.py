"""`edgeunet stream` as a user runs it: vtest.avi end to end, several sinks, corrupt frames, Ctrl-C, bad inputs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, assert_user_error, run_cli

STAGES = ("capture", "preprocess", "inference", "postprocess", "overlay", "sink", "end_to_end")


def read_back(path: Path) -> tuple:
    cap = cv2.VideoCapture(str(path))
    count, sizes = 0, set()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        sizes.add((frame.shape[1], frame.shape[0]))
    cap.release()
    return count, sizes


def test_vtest_every_frame_to_mp4_with_stats(tiny_onnx: Path, vtest: Path, tmp_path: Path) -> None:
    """Acceptance 1: all 795 frames, read back 768x576 from out.mp4, p50/p95/p99 for every stage."""
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    proc = run_cli("stream", tiny_onnx, vtest, "--output", out, "--stats", stats, "--no-hud")
    assert proc.returncode == 0, proc.stderr
    assert read_back(out) == (795, {(768, 576)})
    report = json.loads(stats.read_text())
    assert report["schema"] == "edgeunet-stream/1" and report["ended"] == "end of stream"
    assert report["frames"] == report["captured"] == 795 and report["dropped"] == 0 and report["fps"] > 0
    for stage in STAGES:
        s = report["stages"][stage]
        assert s["count"] == 795 and s["p50"] <= s["p95"] <= s["p99"] <= s["max"], (stage, s)
    assert all(q["max_depth"] <= q["capacity"] == 2 for q in report["queues"].values())
    assert "end-to-end" in proc.stdout and "p99" in proc.stdout and "795 frames processed" in proc.stdout
    assert not list(tmp_path.glob(".*partial*"))


def test_several_sinks_overlays_and_hud(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    frames_dir = tmp_path / "frames"
    proc = run_cli("stream", tiny_onnx, synth_video, "-o", tmp_path / "side.avi", "-o", f"{frames_dir}/", "-o", "null",
                   "--overlay", "side", "--max-frames", "12", "--stats", tmp_path / "s.json")
    assert proc.returncode == 0, proc.stderr
    assert read_back(tmp_path / "side.avi") == (12, {(512, 192)})
    assert len(list(frames_dir.glob("*.jpg"))) == 12
    hud = cv2.imread(str(frames_dir / "000011.jpg"))
    assert hud[8:22, 8:120].max() > 230  # white HUD text top-left
    for mode in ("contour", "mask"):
        proc = run_cli("stream", tiny_onnx, synth_video, "-o", tmp_path / f"{mode}.mp4", "--overlay", mode, "--max-frames", "5",
                       "--no-hud", "--alpha", "0.7")
        assert proc.returncode == 0, proc.stderr
        assert read_back(tmp_path / f"{mode}.mp4") == (5, {(256, 192)})


def test_corrupt_frames_are_skipped_and_counted_and_loop(tiny_onnx: Path, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), np.random.default_rng(i).integers(0, 255, (48, 64), np.uint8))
    (folder / "2b.png").write_bytes(b"not a png")
    proc = run_cli("stream", tiny_onnx, folder, "-o", tmp_path / "o.mp4", "--stats", tmp_path / "s.json", "--loop", "--max-frames", "10")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["frames"] == 10 and report["corrupt"] >= 2 and report["loops"] >= 2
    assert read_back(tmp_path / "o.mp4") == (10, {(64, 48)})


def test_ctrl_c_finalises_the_video_and_stats(tiny_onnx: Path, vtest: Path, tmp_path: Path) -> None:
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    proc = subprocess.Popen([sys.executable, "-m", "edgeunet", "stream", str(tiny_onnx), str(vtest), "--realtime", "-o", str(out),
                             "--stats", str(stats)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6.0)  # load the model, then about 3 s of 10 FPS
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    report = json.loads(stats.read_text())
    assert report["ended"] == "interrupted (Ctrl-C)" and 0 < report["frames"] < 795
    count, sizes = read_back(out)
    assert count == report["frames"] and sizes == {(768, 576)}
    assert "interrupted" in stdout


def test_no_torch_on_the_stream_path(tiny_onnx: Path, synth_video: Path) -> None:
    code = ("import sys; from edgeunet.stream.stream import Stream; "
            f"r = Stream({str(tiny_onnx)!r}, {str(synth_video)!r}, ['null'], max_frames=5).run(); "
            "assert r['frames'] == 5, r; assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# -- bad inputs: one line, non-zero exit --------------------------------------------------------------
@pytest.fixture()
def mismatched_onnx(tiny_onnx: Path, tmp_path: Path) -> Path:
    """The tiny model with metadata that claims 3-channel input (the graph takes 1)."""
    import onnx

    model = onnx.load(str(tiny_onnx))
    for prop in model.metadata_props:
        if prop.key == "edgeunet.spec":
            spec = json.loads(prop.value)
            spec.update(in_channels=3, channel_order="rgb", mean=[0.5] * 3, std=[0.25] * 3)
            prop.value = json.dumps(spec)
    out = tmp_path / "rgb-claims.onnx"
    onnx.save(model, str(out))
    return out


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_bad_inputs_are_one_line(tiny_onnx: Path, tiny_run: Path, synth_video: Path, mismatched_onnx: Path, tmp_path: Path) -> None:
    env_headless = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    cases = [
        (("stream", tmp_path / "none.onnx", synth_video), "no such model file"),
        (("stream", tiny_onnx, tmp_path / "none.mp4"), "no such file or folder"),
        (("stream", tiny_onnx, "foo://bar"), "unknown scheme foo://"),
        (("stream", tiny_onnx, "v4l2:///dev/video99"), "no such device /dev/video99"),
        (("stream", tiny_onnx, synth_video, "-o", "/proc/edgeunet/out.mp4"), "/proc/edgeunet"),
        (("stream", tiny_onnx, synth_video, "-o", tmp_path / "out.xyz"), "unknown file type .xyz"),
        (("stream", mismatched_onnx, synth_video), "re-export"),
        (("stream", tiny_onnx, synth_video, "--stats", tmp_path), "is a folder"),
        (("stream", tiny_onnx, tmp_path), "no images"),
        (("stream", tiny_onnx, synth_video, "--overlay", "blur"), "--overlay"),
        (("stream", tiny_onnx, "rtsp://127.0.0.1:9/none"), "cannot be opened (RTSP stream)"),
        (("stream", tiny_onnx, synth_video, "--fp16"), "edgeunet convert --fp16"),
    ]
    if not _cuda_available():
        cases.append((("stream", tiny_run / "best.pt", synth_video, "--fp16"), "needs CUDA"))
    if not Path("/dev/video9").exists():
        cases.append((("stream", tiny_onnx, "camera://9"), "cannot be opened (camera 9)"))
    from edgeunet.stream.sources import opencv_has

    if not opencv_has("GStreamer"):
        cases.append((("stream", tiny_onnx, "csi://0"), "needs OpenCV built with GStreamer"))
    for args, fragment in cases:
        assert_user_error(run_cli(*args), fragment)
    proc = subprocess.run([sys.executable, "-m", "edgeunet", "stream", str(tiny_onnx), str(synth_video), "-o", "display://"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=env_headless)
    assert_user_error(proc, "mjpeg://")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert_user_error(run_cli("stream", tiny_onnx, synth_video, "-o", f"mjpeg://127.0.0.1:{port}"), "already in use")
    assert not list(tmp_path.glob("*.mp4"))


def test_ort_knobs_reach_the_session(tiny_onnx: Path, synth_video: Path) -> None:
    from edgeunet.stream.stream import Stream

    with Stream(tiny_onnx, synth_video, ["null"], threads=1, ort_opt_level="basic", max_frames=2) as stream:
        assert stream.run()["frames"] == 2
        options = stream.backend.session.get_session_options()  # type: ignore[attr-defined]
        assert options.intra_op_num_threads == 1 and options.graph_optimization_level.name == "ORT_ENABLE_BASIC"
    proc = run_cli("stream", tiny_onnx, synth_video, "-o", "null", "--max-frames", "2", "--ort-opt-level", "disable")
    assert proc.returncode == 0, proc.stderr


def test_headless_without_output_falls_back_to_null(tiny_onnx: Path, synth_video: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "edgeunet", "stream", str(tiny_onnx), str(synth_video), "--max-frames", "3"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "not shown" in proc.stdout and "3 frames processed" in proc.stdout


def test_demo_finishes_with_a_stream(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    from edgeunet.cli.demo import _stream

    models = tmp_path / "models" / "abc123"
    models.mkdir(parents=True)
    (models / "fp32-64x64.onnx").symlink_to(tiny_onnx)
    places = _stream(tmp_path / "models", synth_video, tmp_path)
    assert read_back(places["stream overlay video"]) == (60, {(256, 192)})
    assert json.loads(places["stream latency (JSON)"].read_text())["frames"] == 60


# -- on a CUDA machine ------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs PyTorch with a CUDA GPU")
def test_vtest_through_torch_cuda_fp16(tiny_run: Path, vtest: Path, tmp_path: Path) -> None:
    """Acceptance 7: the checkpoint in half precision on the GPU, every frame, per-stage stats."""
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    proc = run_cli("stream", tiny_run / "best.pt", vtest, "--backend", "torch", "--device", "cuda", "--fp16",
                   "--output", out, "--stats", stats, "--no-hud")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(stats.read_text())
    assert report["precision"] == "fp16" and report["device"].startswith("cuda"), report["device"]
    assert read_back(out) == (795, {(768, 576)})
    assert all(report["stages"][s]["count"] == 795 for s in STAGES)


def test_upsample_reference_path_gives_the_same_masks(tiny_onnx: Path, synth_video: Path, tmp_path: Path) -> None:
    """--upsample logits (the reference) and the default fast path write the same masks; the choice lands in --stats."""
    masks = {}
    for mode in ("fast", "logits"):
        stats = tmp_path / f"{mode}.json"
        proc = run_cli("stream", tiny_onnx, synth_video, "-o", tmp_path / f"{mode}/", "--overlay", "mask", "--no-hud",
                       "--max-frames", "4", "--upsample", mode, "--stats", stats)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(stats.read_text())["options"]["upsample"] == mode
        masks[mode] = [cv2.imread(str(p)) for p in sorted((tmp_path / mode).glob("*.jpg"))]
    assert len(masks["fast"]) == 4 and all(np.array_equal(a, b) for a, b in zip(masks["fast"], masks["logits"]))
    bad = run_cli("stream", tiny_onnx, synth_video, "--upsample", "cubic")
    assert bad.returncode == 2 and "cubic" in bad.stderr
