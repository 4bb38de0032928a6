"""Adding a row to a table of kinds (the source table, the sink table): one rule for names that collide.

Why a function of its own: both tables refuse a second row with a name or a URI scheme already taken, at
import time, so two sinks can never silently claim `web://`. Imports nothing.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, TypeVar

Row = TypeVar("Row")


def add_row(table: Dict[str, Row], name: str, row: Row, keys: Callable[[Row], Iterable[str]], what: str) -> Row:
    """table[name] = row, unless `name` or one of the row's keys (schemes, words) is already there: a programming error."""
    clash = ({name} & set(table)) | (set(keys(row)) & {key for other in table.values() for key in keys(other)})
    if clash:
        raise ValueError(f"{what} {name}: {', '.join(sorted(clash))} already registered")
    table[name] = row
    return row
