"""edgeunet doctor: the probes' parsing, the report, and the selftest's generated model and comparison (no GPU needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeunet.deploy import doctor

L4T_DATA = Path(__file__).resolve().parents[2] / "data" / "l4t"

OPENCV_INFO = """
  Video I/O:
    DC1394:                      NO
    FFMPEG:                      YES
      avcodec:                   YES (58.54.100)
    GStreamer:                   YES (1.16.3)
    v4l/v4l2:                    YES (linux/videodev2.h)
"""


@pytest.mark.parametrize(
    ("text", "expected", "jetpack"),
    [
        ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref", (35, 4, 1), "5.1.2"),
        ("# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic", (36, 3, 0), "6.0"),
        ("# R36 (release), REVISION: 4.3, GCID: 1", (36, 4, 3), "6.2"),
        ("# R35 (release), REVISION: 9.9, GCID: 1", (35, 9, 9), "5.x"),
        ("# R32 (release), REVISION: 7.4, GCID: 1", (32, 7, 4), None),
    ],
)
def test_l4t_release_to_jetpack(text: str, expected: tuple, jetpack: object) -> None:
    assert doctor.parse_l4t_release(text) == expected
    assert doctor.jetpack_for(expected) == jetpack


def test_check_l4t_on_the_sample_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(doctor, "_power_mode", lambda: "")
    check = doctor.check_l4t(L4T_DATA / "jetpack5_r35.4.1")
    assert check.status == doctor.OK and "JetPack 5.1.2" in check.detail and "Python 3.8" in check.detail
    monkeypatch.setenv(doctor.RELEASE_ENV, str(L4T_DATA / "jetpack6_r36.3.0"))
    check = doctor.check_l4t()
    assert check.status == doctor.OK and "JetPack 6.0" in check.detail
    old = doctor.check_l4t(L4T_DATA / "jetpack4_r32.7.4")
    assert old.status == doctor.WARN and old.hint
    assert doctor.check_l4t(tmp_path / "absent").status == doctor.NA
    (tmp_path / "junk").write_text("junk")
    assert doctor.check_l4t(tmp_path / "junk").status == doctor.WARN


def test_opencv_video_io_parsing() -> None:
    assert doctor.opencv_video_io(OPENCV_INFO) == {"GStreamer": True, "FFMPEG": True, "V4L2": True}
    assert doctor.opencv_video_io(OPENCV_INFO.replace("YES (1.16.3)", "NO")) == {"GStreamer": False, "FFMPEG": True, "V4L2": True}


def test_torch_is_reported_from_metadata_and_absent_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    check = doctor.check_torch()
    assert check.status == doctor.MISSING and "edgeunet[train]" in check.hint


def test_report_names_what_the_tensorrt_path_lacks() -> None:
    checks = [
        doctor.Check("GPU", doctor.MISSING, "no NVIDIA GPU found", "install the driver"),
        doctor.Check("CUDA", doctor.OK, "12.2"),
        doctor.Check("TensorRT", doctor.MISSING, "not importable", "apt install python3-libnvinfer"),
        doctor.Check("pycuda", doctor.OK, "2024.1"),
    ]
    lines = doctor.report_lines(checks)
    assert any("[missing]" in line and "GPU" in line for line in lines)
    assert any("-> install the driver" in line for line in lines)
    assert lines[-1].startswith("TensorRT path: not available here (missing: GPU, TensorRT)")


def test_micro_unet_runs_on_onnx_runtime(tmp_path: Path) -> None:
    import onnxruntime as ort

    path = tmp_path / "m.onnx"
    assert doctor.write_micro_unet(path) == 8
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal(doctor.SELFTEST_SHAPE).astype(np.float32)
    out = session.run(None, {"input": x})[0]
    assert out.shape == (1, 2, 64, 64) and np.isfinite(out).all() and out.std() > 0.01


def test_compare_passes_tf32_sized_errors_and_fails_wrong_results() -> None:
    ref = np.random.default_rng(0).standard_normal((1, 2, 8, 8)).astype(np.float32)
    assert doctor.compare(ref, ref * (1 + 1e-3)).passed
    assert not doctor.compare(ref, ref + 0.5).passed
    assert not doctor.compare(ref, np.full_like(ref, np.nan)).passed
    assert not doctor.compare(ref, ref[:, :1]).passed
