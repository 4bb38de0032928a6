"""Tests mirror the tree (issue 20 item 8): every edgeunet module with logic has tests/unit/<package>/test_<module>.py.

A new module without its test module fails here. The modules below had none when this check was written; the list
only shrinks: a listed module that gains its test module fails the second test until its line is deleted.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "edgeunet"

# package/module -> why it has no unit test module yet (where it is tested instead). Delete a line when its test lands.
NOT_YET = {
}


def _has_logic(path: Path) -> bool:
    """A function or class: constants-only modules (core/version.py) and package markers need no test module."""
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def _untested() -> List[str]:
    missing = []
    for path in sorted(PACKAGE.glob("*/*.py")):
        if path.name.startswith("__") or not _has_logic(path):
            continue
        package, module = path.parent.name, path.stem
        if not (REPO / "tests" / "unit" / package / f"test_{module}.py").is_file():
            missing.append(f"{package}/{module}")
    return missing


def test_every_module_with_logic_has_its_test_module() -> None:
    new = [name for name in _untested() if name not in NOT_YET]
    assert not new, "add tests/unit/<package>/test_<module>.py for: " + ", ".join(new)


def test_the_not_yet_list_only_shrinks() -> None:
    done = sorted(set(NOT_YET) - set(_untested()))
    assert not done, "these now have their test module; delete them from NOT_YET: " + ", ".join(done)
