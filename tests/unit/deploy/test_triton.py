"""export-triton's pieces: model names, Triton's batch rule, dims and types, and the repository it writes (ONNX path).

The engine path (sidecar, profile limits) and the CLI are covered in tests/integration/test_triton_deepstream.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.core.onnx_model import TensorInfo
from edgeunet.deploy.triton import (
    DEFAULT_MAX_BATCH,
    export_triton,
    load_source,
    model_name,
    resolve_max_batch,
    summary,
    triton_dims,
    triton_type,
)
from tests.unit.tiny_graphs import threshold_onnx

pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="pip install 'edgeunet[triton]'")


def _parse(path: Path) -> object:
    from google.protobuf import text_format

    return text_format.Parse(path.read_text(), pb2.ModelConfig())


def test_model_name_from_the_stem_or_checked_name() -> None:
    assert model_name(Path("runs/best.int8.onnx"), None) == "best.int8"
    assert model_name(Path("my model (2).onnx"), None) == "my_model__2_"
    assert model_name(Path("m.onnx"), "cells-v2") == "cells-v2"
    for bad in ("../x", "", ".hidden", "a/b"):
        with pytest.raises(EdgeUnetError, match="--name"):
            model_name(Path("m.onnx"), bad)


def test_dims_drop_the_batch_only_when_batching() -> None:
    assert triton_dims([None, 1, None, 64], 8) == [1, -1, 64]
    assert triton_dims([1, 1, 32, 32], 0) == [1, 1, 32, 32]


def test_a_type_triton_lacks_is_one_line() -> None:
    from onnx import TensorProto

    assert triton_type(TensorInfo("x", TensorProto.FLOAT16, [1]), pb2) == pb2.DataType.Value("TYPE_FP16")
    with pytest.raises(EdgeUnetError, match="tensor x: ONNX type COMPLEX64 has no Triton equivalent"):
        triton_type(TensorInfo("x", TensorProto.COMPLEX64, [1]), pb2)


def test_batch_rule_fixed_and_dynamic(tmp_path: Path) -> None:
    fixed = load_source(threshold_onnx(tmp_path / "fixed.onnx"))
    dynamic = load_source(threshold_onnx(tmp_path / "dynamic.onnx", batch="batch"))
    assert resolve_max_batch(None, fixed) == 0 and resolve_max_batch(0, fixed) == 0
    assert resolve_max_batch(None, dynamic) == DEFAULT_MAX_BATCH and resolve_max_batch(3, dynamic) == 3
    with pytest.raises(EdgeUnetError, match="--max-batch 4: .* has a fixed batch dim \\(1\\); re-export with `edgeunet export --dynamic`"):
        resolve_max_batch(4, fixed)
    with pytest.raises(EdgeUnetError, match="--max-batch -1: must be 0"):
        resolve_max_batch(-1, dynamic)
    dynamic.max_profile_batch = 4  # an engine's optimization profile caps the default and the choice
    assert resolve_max_batch(None, dynamic) == 4
    with pytest.raises(EdgeUnetError, match="profile stops at batch 4"):
        resolve_max_batch(5, dynamic)


def test_only_onnx_and_engines_are_sources(tmp_path: Path) -> None:
    with pytest.raises(EdgeUnetError, match="pass an .onnx model .* or an .engine/.plan"):
        load_source(tmp_path / "best.pt")


def test_dynamic_onnx_repository(tmp_path: Path) -> None:
    model = threshold_onnx(tmp_path / "cells.onnx", batch="batch")
    result = export_triton(model, tmp_path / "repo", dynamic_batching=True, max_queue_delay_us=500, instances=2)
    assert (result.name, result.platform, result.max_batch) == ("cells", "onnxruntime_onnx", DEFAULT_MAX_BATCH)
    assert result.model_path.read_bytes() == model.read_bytes() and result.model_path.name == "model.onnx"
    assert sorted(p.name for p in (tmp_path / "repo" / "cells").iterdir()) == ["1", "config.pbtxt"]
    text = result.config_path.read_text()
    assert text == result.config_text and text.startswith("# Written by `edgeunet export-triton` from cells.onnx.")
    config = _parse(result.config_path)
    assert [(t.name, list(t.dims)) for t in config.input] == [("input", [1, 32, 32])]
    assert [(t.name, list(t.dims)) for t in config.output] == [("output", [1, 32, 32])]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.instance_group[0].count == 2
    assert pb2.ModelInstanceGroup.Kind.Name(config.instance_group[0].kind) == "KIND_AUTO"
    assert '"input_size": [32, 32]' in config.parameters["edgeunet.spec"].string_value  # clients get the contract
    assert config.parameters["edgeunet.precision"].string_value == "fp32"
    lines = summary(result)
    assert lines[0].startswith(f"wrote {tmp_path / 'repo'}/ (onnxruntime_onnx, max_batch_size 8)")
    assert "tritonserver --model-repository=/models" in lines[1] and len(lines) == 2  # no notes for an ONNX


def test_fixed_onnx_gets_full_dims_and_no_batching(tmp_path: Path) -> None:
    result = export_triton(threshold_onnx(tmp_path / "m.onnx"), tmp_path / "repo", name="seg")
    config = _parse(result.config_path)
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [1, 1, 32, 32]
    assert not config.HasField("dynamic_batching")


@pytest.mark.parametrize(("options", "fragment"), [
    ({"instances": 0}, "--instances 0: must be at least 1"),
    ({"dynamic_batching": True}, "--dynamic-batching needs batching"),
    ({"max_queue_delay_us": 100}, "--max-queue-delay is a dynamic batching setting"),
    ({"max_batch": 2}, "fixed batch dim"),
])
def test_refusals_write_nothing(tmp_path: Path, options: dict, fragment: str) -> None:
    model = threshold_onnx(tmp_path / "m.onnx")
    with pytest.raises(EdgeUnetError, match=fragment):
        export_triton(model, tmp_path / "repo", **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_an_occupied_repo_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "repo" / "other").mkdir(parents=True)
    with pytest.raises(EdgeUnetError, match="already exists"):
        export_triton(threshold_onnx(tmp_path / "m.onnx"), tmp_path / "repo")
    assert [p.name for p in (tmp_path / "repo").iterdir()] == ["other"]


def test_without_tritonclient_the_install_step_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tritonclient.grpc", None)
    monkeypatch.setitem(sys.modules, "tritonclient.grpc.model_config_pb2", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'edgeunet\[triton\]'"):
        export_triton(threshold_onnx(tmp_path / "m.onnx"), tmp_path / "repo")
    assert not (tmp_path / "repo").exists()
