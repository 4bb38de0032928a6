"""An import-linter contract type whose sources come from the package tree, not from a list written by hand.

Why: a forbidden contract lists its source packages, so a package added later is not covered until someone
remembers to add it (that is how `deploy`/`bench` came to reach torch unchecked). `forbidden_outside` checks
every child of `container` (every package and top-level module, today's and tomorrow's) except the ones named
in `outside`, with the chains import-linter's own `forbidden` contract finds (indirect imports included).
Registered in pyproject.toml ([tool.importlinter] contract_types); lint-imports puts the repository root on
sys.path, so `tests.tools.import_contracts` imports from a checkout.
"""

from __future__ import annotations

from typing import Any

from importlinter import fields
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain.imports import ModuleExpression


class ForbiddenOutsideContract(ForbiddenContract):
    """`forbidden` with source_modules = children(container) - outside, computed from the import graph at check time."""

    type_name = "forbidden_outside"

    container = fields.StringField()
    outside = fields.SetField(subfield=fields.StringField(), required=False)
    source_modules = fields.SetField(subfield=fields.ModuleExpressionField(), required=False)

    def check(self, graph: Any, verbose: bool) -> Any:
        skipped = {f"{self.container}.{name}" for name in (self.outside or ())}
        self.source_modules = {ModuleExpression(name) for name in sorted(graph.find_children(self.container) - skipped)}
        return super().check(graph, verbose)
