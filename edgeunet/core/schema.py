"""Field-by-field checks for everything read from a file a user may have received (ONNX metadata, checkpoint spec,
engine sidecar): one line naming the field, and text kept as data.

Why a small validator and not pydantic: the edge path reads these files on a Jetson with a minimal install, the
schemas are a dozen flat fields, and the one thing we need beyond types (bounds that keep a stranger's numbers
from allocating gigabytes or indexing out of range) is a line each here.
"""

from __future__ import annotations

import math
from typing import Any, Callable, List, Optional, Sequence

from edgeunet.core.errors import EdgeUnetError

Rule = Callable[[Any], Optional[str]]  # None when the value is fine, else what was expected


def clean_text(value: object, limit: int = 120) -> str:
    """Text from an untrusted file, safe to print: control characters (ANSI escapes, newlines) shown as '?', length bounded."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= limit else text[:limit] + "..."


def whole(low: int, high: int) -> Rule:
    def rule(value: Any) -> Optional[str]:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"a whole number from {low} to {high}"
    return rule


def number(low: float, high: float, open_low: bool = False) -> Rule:
    def rule(value: Any) -> Optional[str]:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > low if open_low else value >= low) and value <= high
        return None if ok else f"a number {'above' if open_low else 'from'} {low:g} {'and at most' if open_low else 'to'} {high:g}"
    return rule


def choice(options: Sequence[str]) -> Rule:
    def rule(value: Any) -> Optional[str]:
        return None if isinstance(value, str) and value in options else f"one of {', '.join(options)}"
    return rule


def text(max_len: int = 200) -> Rule:
    def rule(value: Any) -> Optional[str]:
        return None if isinstance(value, str) and len(value) <= max_len else f"text of at most {max_len} characters"
    return rule


def items(each: Rule, min_len: int = 0, max_len: int = 4096) -> Rule:
    """A list whose length is in [min_len, max_len] and whose every item passes `each`."""
    def rule(value: Any) -> Optional[str]:
        if not isinstance(value, (list, tuple)) or not min_len <= len(value) <= max_len:
            return f"a list of {min_len} to {max_len} items"
        for i, item in enumerate(value):
            problem = each(item)
            if problem is not None:
                return f"a list whose items are {problem} (item {i} is not)"
        return None
    return rule


def optional(rule: Rule) -> Rule:
    def check(value: Any) -> Optional[str]:
        return None if value is None else rule(value)
    return check


def check_field(data: Any, name: str, rule: Rule, source: str, what: str, fix: str) -> None:
    """Raise one line naming `name` when data[name] breaks `rule`."""
    value = data.get(name)
    problem = rule(value)
    if problem is not None:
        shown = clean_text(repr(value), 60)
        raise EdgeUnetError(f"{source}: {what} field '{name}' must be {problem}, not {shown}; {fix}")


def check_fields(data: Any, rules: dict, source: str, what: str, fix: str, required: Sequence[str] = ()) -> None:
    """Every present field against its rule; `required` fields must be there. Unknown fields are ignored (newer writers)."""
    if not isinstance(data, dict):
        raise EdgeUnetError(f"{source}: {what} is not a JSON object; {fix}")
    missing: List[str] = [name for name in required if name not in data]
    if missing:
        raise EdgeUnetError(f"{source}: {what} lacks the field '{missing[0]}'; {fix}")
    for name, rule in rules.items():
        if name in data:
            check_field(data, name, rule, source, what, fix)
