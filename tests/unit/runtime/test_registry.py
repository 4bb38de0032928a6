"""runtime.registry: the table is consistent with the classes it names, and every lookup is one line when it fails."""

from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import CHECKPOINT, ENGINE, MODEL_KINDS, ONNX
from edgeunet.runtime import registry
from edgeunet.runtime.base import Backend


@pytest.mark.parametrize("entry", registry.BACKENDS, ids=lambda e: e.name)
def test_each_entry_names_a_backend_class_of_the_same_name(entry: registry.BackendEntry) -> None:
    cls = entry.load()
    assert issubclass(cls, Backend) and cls.name == entry.name
    assert entry.opens in MODEL_KINDS.values() and entry.short and entry.help and entry.requires


def test_names_are_unique_and_auto_is_reserved() -> None:
    assert len(set(registry.BACKEND_NAMES)) == len(registry.BACKENDS)
    assert "auto" not in registry.BACKEND_NAMES
    assert registry.SHORT == {"torch": "torch", "onnxruntime": "ORT", "tensorrt": "TRT"}


def test_auto_picks_the_first_entry_of_a_kind() -> None:
    assert registry.backend_for_kind(CHECKPOINT).name == "torch"
    assert registry.backend_for_kind(ONNX).name == "onnxruntime"
    assert registry.backend_for_kind(ENGINE).name == "tensorrt"
    assert registry.backend_for_kind(None) is None


def test_unknown_name_lists_the_known_ones() -> None:
    assert registry.get_backend("tensorrt").short == "TRT"
    with pytest.raises(EdgeUnetError, match=r"^--backends trt: unknown backend; known: auto, torch, onnxruntime, tensorrt$"):
        registry.get_backend("trt", "--backends")
    with pytest.raises(EdgeUnetError, match="did you mean tensorrt"):
        registry.get_backend("tensorrtt")


def test_help_texts_come_from_the_table() -> None:
    assert registry.backends_help() == "auto (by file type), torch, onnxruntime or tensorrt."
    assert registry.backends_help(auto=False) == "torch, onnxruntime, tensorrt."
    assert registry.file_types() == ".pt, .pth, .onnx, .engine or .plan"


def test_doctor_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "installed", lambda name: name in ("onnxruntime",))
    usable, detail = registry.usable_backends()
    assert usable and detail == "usable: onnxruntime; not here: torch (needs torch); tensorrt (needs tensorrt, pycuda)"
    monkeypatch.setattr(registry, "installed", lambda name: False)
    assert registry.usable_backends() == (False, "usable: none; not here: torch (needs torch); onnxruntime (needs onnxruntime); "
                                                 "tensorrt (needs tensorrt, pycuda)")


def test_installed_never_imports_and_never_raises() -> None:
    assert registry.installed("numpy")
    assert not registry.installed("edgeunet_no_such_module")
    assert not registry.installed("edgeunet_no_such_package.sub")
