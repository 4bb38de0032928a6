"""core.precisions: one table; unknown names are one line listing the known ones; nothing is read as fp32 by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeunet.core import precisions as P
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_PRECISION, precision_of


def test_table_is_consistent() -> None:
    assert P.PRECISIONS == ("fp32", "fp16", "int8")
    assert P.DEFAULT_BENCH_PRECISIONS == ("fp32", "fp16", "int8", "int8-cpu")
    assert len(set(P.BENCH_PRECISIONS)) == len(P.PRECISIONS_TABLE)
    for entry in P.PRECISIONS_TABLE:
        assert entry.file_precision in P.PRECISIONS, entry  # every bench row is a precision an ONNX can carry
        assert entry.help and "(" not in entry.help
    assert [p.name for p in P.PRECISIONS_TABLE if p.is_int8] == ["int8", "int8-cpu", "int8-modelopt", "int8-qat", "int8-fallback"]
    assert [p.name for p in P.PRECISIONS_TABLE if p.checkpoint] == ["fp32", "fp16"]
    assert [p.name for p in P.PRECISIONS_TABLE if p.no_engine] == ["int8-cpu"]


def test_unknown_names_list_the_known_ones() -> None:
    assert P.get_precision("int8-qat").given == "--qat"
    with pytest.raises(EdgeUnetError, match="^--precisions fp8: unknown precision; known: fp32, fp16, int8, int8-cpu, "):
        P.get_precision("fp8", "--precisions")
    assert P.file_precision("fp16") == "fp16"
    with pytest.raises(EdgeUnetError, match="int8-cpu: unknown precision; known: fp32, fp16, int8$"):
        P.file_precision("int8-cpu")  # a bench row, not what a file says


def test_precision_of_refuses_what_it_does_not_know() -> None:
    assert precision_of({}) == "fp32"  # a plain export records fp32; older files recorded nothing
    assert precision_of({KEY_PRECISION: "int8"}) == "int8"
    with pytest.raises(EdgeUnetError, match=r"^m.onnx: edgeunet.precision bf16: unknown precision; known: fp32, fp16, int8$"):
        precision_of({KEY_PRECISION: "bf16"}, "m.onnx")


def test_deriver_is_imported_only_when_asked() -> None:
    from edgeunet.export.fp16 import convert_fp16

    assert P.get_precision("fp16").deriver() is convert_fp16
    with pytest.raises(EdgeUnetError, match="int8: has no converter"):
        P.get_precision("int8").deriver()


def test_help_text_comes_from_the_table() -> None:
    text = P.precisions_help()
    assert text.startswith("fp32 = float32 as exported; fp16 = ") and all(name in text for name in P.BENCH_PRECISIONS)
    assert P.precisions_help(["int8"]) == "int8 = TensorRT-valid INT8 Q/DQ graph, as calibrate makes"


def test_a_new_precision_is_one_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the newcomer guide promises: an entry with a converter is found by name and its converter runs."""
    entry = P.Precision("copy16", "a test converter", stored_as="fp16", derive="shutil:copyfile")
    monkeypatch.setitem(P.BY_NAME, "copy16", entry)
    got = P.get_precision("copy16", known=[*P.BENCH_PRECISIONS, "copy16"])
    (tmp_path / "a").write_text("x")
    assert got.deriver()(tmp_path / "a", tmp_path / "b") == tmp_path / "b" and got.file_precision == "fp16"
