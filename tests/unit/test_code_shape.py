"""House rules on the shape of the code, checked on every run (issue 20): small modules, small functions, no repeats.

A module over 400 lines or a function over 60 lines hides more than one job; a block repeated elsewhere is a seam
that should be one function. pylint's duplicate-code checker (a maintained implementation) does the last part.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "edgeunet"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MIN_DUPLICATE_LINES = 6


def _modules() -> Iterator[Path]:
    return iter(sorted(PACKAGE.rglob("*.py")))


def _functions(path: Path) -> Iterator[Tuple[str, int, int]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1


def test_no_module_over_400_lines() -> None:
    long = [f"{p.relative_to(PACKAGE.parent)} ({n} lines)" for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, "split these modules by job: " + ", ".join(long)


def test_no_function_over_60_lines() -> None:
    long = [f"{p.relative_to(PACKAGE.parent)}:{line} {name} ({n} lines)"
            for p in _modules() for name, line, n in _functions(p) if n > MAX_FUNCTION_LINES]
    assert not long, "split these functions where a name would explain a part: " + "; ".join(long)


def test_no_block_of_six_lines_repeated() -> None:
    pytest.importorskip("pylint")
    proc = subprocess.run(
        [sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code", "--score=n",
         f"--min-similarity-lines={MIN_DUPLICATE_LINES}", str(PACKAGE)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
