"""The exception that means "the user can fix this", and the exit codes scripts rely on."""

from __future__ import annotations

import pytest

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError


def test_exit_codes_by_kind_and_per_error() -> None:
    assert EdgeUnetError("x").exit_code == 2  # a user mistake
    assert MissingDependencyError("pip install y").exit_code == 3  # something to install
    assert EdgeUnetError("interrupted", exit_code=130).exit_code == 130
    assert EdgeUnetError("x").exit_code == 2  # the override is per instance, not per class


def test_a_missing_dependency_is_a_user_error_with_its_message() -> None:
    with pytest.raises(EdgeUnetError, match="^pip install 'edgeunet\\[qat\\]'$"):
        raise MissingDependencyError("pip install 'edgeunet[qat]'")


def test_the_gate_failure_has_its_own_exit_code() -> None:
    from edgeunet.evaluate.gate import GateError

    assert issubclass(GateError, EdgeUnetError) and GateError("drop").exit_code not in (0, 1, 2, 3)
