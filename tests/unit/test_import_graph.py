"""No import circle inside any package of edgeunet, counting the imports written inside functions.

Why our own walk and not import-linter alone: a function-level import is how a circle hides (sinks.make_sink
importing web, which imported sinks), and the rule here is about modules of one package importing each other
in a loop, at any depth of the code. The walk reads every `import` / `from ... import` with ast, resolves
relative imports, and finds strongly connected components among the modules of each package.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Set

ROOT = Path(__file__).resolve().parents[2] / "edgeunet"


def modules_of(root: Path) -> Dict[str, Path]:
    """'edgeunet.stream.sinks' -> its file, for every .py under `root` (a package's __init__ is the package's name)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _package(name: str, modules: Dict[str, Path]) -> str:
    return name if modules[name].name == "__init__.py" else name.rpartition(".")[0]


def imported_names(name: str, modules: Dict[str, Path]) -> Iterator[str]:
    """Every module `name` imports, anywhere in its code, as a known module name (the nearest known parent of a name)."""
    package = _package(name, modules)
    for node in ast.walk(ast.parse(modules[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def circles(root: Path) -> List[List[str]]:
    """Each import circle among the modules of one package (strongly connected components of size > 1), sorted."""
    modules = modules_of(root)
    edges: Dict[str, Set[str]] = defaultdict(set)
    for name in modules:
        package = _package(name, modules)
        edges[name] = {t for t in imported_names(name, modules) if _package(t, modules) == package}
    return sorted(sorted(c) for c in _components(list(modules), edges) if len(c) > 1)


def _components(nodes: List[str], edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's strongly connected components (iterative enough for a package's few dozen modules)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            found.append(component)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_inside_any_package() -> None:
    assert circles(ROOT) == []


def test_the_walk_finds_a_circle_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "demo" / "inner"
    pkg.mkdir(parents=True)
    (tmp_path / "demo" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "sinks.py").write_text("def make():\n    from demo.inner.web import WebSink\n    return WebSink\n")
    (pkg / "web.py").write_text("from .sinks import make\n")
    (pkg / "alone.py").write_text("from demo.inner import sinks\n")
    (tmp_path / "demo" / "other.py").write_text("from demo.inner import web\n")  # another package: not a circle inside one
    assert circles(tmp_path / "demo") == [["demo.inner.sinks", "demo.inner.web"]]
