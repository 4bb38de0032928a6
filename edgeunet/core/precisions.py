"""The precisions edgeunet knows: one table, read by the ONNX metadata reader, the CLI, bench and the backends.

Why a table: "fp16" used to be spelled in ten files, and a precision one reader did not know became "fp32"
without a word (a file would then be calibrated or gated as fp32). Every name is looked up here, and an unknown
one is one line listing the known ones.

Two kinds of entry. A *file* precision is what an ONNX carries in its `edgeunet.precision` metadata (fp32, fp16,
int8). A *bench* precision is a row of `edgeunet bench`: a file precision made a particular way (int8-cpu is an int8
graph calibrated for the CPU; int8-qat is one given with --qat). A newcomer's precision is one `Precision(...)` line
in PRECISIONS, next to the function that makes its ONNX from the fp32 one (`derive`, "module:function", called as
`derive(fp32_onnx, out) -> out`), which bench then uses for its rows. No torch and no onnx import here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Tuple, cast

from edgeunet.core.errors import EdgeUnetError


@dataclass(frozen=True)
class Precision:
    """One precision: its name, what it is, and how it is made and run."""

    name: str  # metadata value (file precisions) and bench row label
    help: str  # one phrase for help texts and the newcomer guide
    stored_as: str = ""  # the file precision its ONNX carries ("" = itself: a file precision)
    bench_default: bool = False  # in bench's --precisions default
    checkpoint: bool = False  # a .pt checkpoint can run in it directly (torch: fp32, and fp16 on CUDA)
    no_engine: str = ""  # why TensorRT builds no engine for it ("" = it does)
    derive: str = ""  # "module:function" (fp32_onnx, out) -> out that makes its ONNX; "" = made by bench's own code
    given: str = ""  # bench option that hands its ONNX in (--qat, --fallback); "" = bench makes it

    @property
    def file_precision(self) -> str:
        return self.stored_as or self.name

    @property
    def is_int8(self) -> bool:
        return self.file_precision == "int8"

    def deriver(self) -> Callable[[Path, Path], Path]:
        """The function that makes this precision's ONNX from an fp32 one (imported only when asked for)."""
        if not self.derive:
            raise EdgeUnetError(f"precision {self.name}: has no converter from fp32 (made by bench's own code)")
        module, _, function = self.derive.partition(":")
        return cast(Callable[[Path, Path], Path], getattr(importlib.import_module(module), function))


PRECISIONS_TABLE: Tuple[Precision, ...] = (
    Precision("fp32", "float32 as exported", bench_default=True, checkpoint=True),
    Precision("fp16", "float16 graph, as convert --fp16 makes", bench_default=True, checkpoint=True,
              derive="edgeunet.export.fp16:convert_fp16"),
    Precision("int8", "TensorRT-valid INT8 Q/DQ graph, as calibrate makes", bench_default=True),
    Precision("int8-cpu", "the INT8 graph ONNX Runtime runs fastest on a CPU, calibrate --target cpu", stored_as="int8",
              bench_default=True,
              no_engine="the cpu-target INT8 graph is for ONNX Runtime; TensorRT builds from the tensorrt-target one (int8 row)"),
    Precision("int8-modelopt", "NVIDIA ModelOpt's ONNX PTQ, qat extra", stored_as="int8"),
    Precision("int8-qat", "the --qat file of train --qat", stored_as="int8", given="--qat"),
    Precision("int8-fallback", "the --fallback file, INT8 with float layers", stored_as="int8",
              given="--fallback"),
)
BY_NAME: Dict[str, Precision] = {p.name: p for p in PRECISIONS_TABLE}

# What an ONNX file's metadata may say (fp32, fp16, int8).
PRECISIONS: Tuple[str, ...] = tuple(p.name for p in PRECISIONS_TABLE if not p.stored_as)
BENCH_PRECISIONS: Tuple[str, ...] = tuple(p.name for p in PRECISIONS_TABLE)
DEFAULT_BENCH_PRECISIONS: Tuple[str, ...] = tuple(p.name for p in PRECISIONS_TABLE if p.bench_default)


def get_precision(name: str, where: str = "precision", known: Optional[Iterable[str]] = None) -> Precision:
    """The entry for `name`; unknown: one line naming where it came from and the known names."""
    names = tuple(known) if known is not None else BENCH_PRECISIONS
    entry = BY_NAME.get(name)
    if entry is None or name not in names:
        raise EdgeUnetError(f"{where} {name}: unknown precision; known: {', '.join(names)}")
    return entry


def file_precision(name: str, where: str = "precision") -> str:
    """`name` checked against the file precisions (what ONNX metadata and engine sidecars may say)."""
    return get_precision(name, where, PRECISIONS).name


def precisions_help(names: Iterable[str] = BENCH_PRECISIONS) -> str:
    """'fp32 = float32 as exported; fp16 = ...': the help text of a precision option, from the table."""
    return "; ".join(f"{name} = {BY_NAME[name].help}" for name in names)
