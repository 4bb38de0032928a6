"""The one exception type that means "the user can fix this".

The CLI turns it into a single line on stderr and a non-zero exit code; anything
else that escapes is a bug in edgeunet and keeps its traceback.
"""

from __future__ import annotations


class EdgeUnetError(Exception):
    """A user-fixable problem: the message says what is wrong, where, and what to do."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class MissingDependencyError(EdgeUnetError):
    """An optional package (torch, tensorrt, pycuda, ...) is needed for this step."""

    exit_code = 3
