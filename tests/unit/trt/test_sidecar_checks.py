"""Engine sidecars, the compatibility side: same TensorRT and GPU accepted, any mismatch one line with the rebuild command."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.trt.sidecar import check_compatible, spec_of_sidecar

ENGINE = Path("runs/m.fp16.engine")
BUILD = "edgeunet build-engine m.onnx --fp16"


def _sidecar(**gpu: Any) -> Dict[str, Any]:
    return {"tensorrt_version": "10.3.0", "gpu": gpu or {"name": "Orin", "compute_capability": "8.7"}, "build_command": BUILD}


def test_same_version_and_gpu_is_accepted() -> None:
    check_compatible(_sidecar(), ENGINE, "10.3.0", "Orin", (8, 7))


@pytest.mark.parametrize(("version", "name", "cc", "expected"), [
    ("8.5.3.1", "Orin", (8, 7), "built for TensorRT 10.3.0 (this machine: 8.5.3.1); "),
    ("10.3.0", "Orin", (8, 6), "built for GPU Orin sm 8.7 (this machine: Orin sm 8.6); "),
    ("10.3.0", "Xavier", (8, 7), "built for GPU Orin sm 8.7 (this machine: Xavier sm 8.7); "),
    ("8.5.3.1", "Xavier", (7, 2), "built for TensorRT 10.3.0 (this machine: 8.5.3.1) and GPU Orin sm 8.7 (this machine: Xavier sm 7.2); "),
])
def test_mismatch_is_refused_with_the_rebuild_command(version: str, name: str, cc: Any, expected: str) -> None:
    with pytest.raises(EdgeUnetError) as info:
        check_compatible(_sidecar(), ENGINE, version, name, cc)
    assert str(info.value) == f"{ENGINE}: {expected}engines only run where they were built: rebuild here with `{BUILD}`"


def test_a_sidecar_without_gpu_fields_matches_no_real_gpu() -> None:
    with pytest.raises(EdgeUnetError, match=r"GPU None sm  \(this machine: Orin sm 8.7\)"):
        check_compatible(_sidecar(other="x"), ENGINE, "10.3.0", "Orin", (8, 7))
    check_compatible(_sidecar(compute_capability="8.7"), ENGINE, "10.3.0", "", (8, 7))  # a name is compared as text, "" when absent


def test_spec_of_sidecar() -> None:
    spec = spec_of_sidecar({"spec": {"in_channels": 1, "input_size": [64, 96], "mean": [0.5], "std": [0.25]}, "build_command": BUILD}, ENGINE)
    assert spec.in_channels == 1 and list(spec.input_size) == [64, 96] and list(spec.mean) == [0.5]
    with pytest.raises(EdgeUnetError, match=r"^runs/m.fp16.engine.json: corrupt sidecar \(spec\); rebuild with `edgeunet build-engine"):
        spec_of_sidecar({"spec": "x", "build_command": BUILD}, ENGINE)
    with pytest.raises(EdgeUnetError, match=r"^runs/m.fp16.engine.json: (invalid )?model description"):
        spec_of_sidecar({"spec": {"in_channels": 2}, "build_command": BUILD}, ENGINE)
