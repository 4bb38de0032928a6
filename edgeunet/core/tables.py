"""Terminal tables (rich), one look for evaluate, the accuracy gate and bench."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence


def print_table(rows: Sequence[Dict[str, str]], title: Optional[str] = None, columns: Optional[List[str]] = None) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        return
    columns = columns or list(rows[0].keys())
    table = Table(title=title, show_lines=False)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(row.get(c, "") for c in columns))
    Console(soft_wrap=True).print(table)
