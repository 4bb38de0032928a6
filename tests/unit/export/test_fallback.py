"""The greedy float fallback (issue 14 item 4) with a fake scorer: order, stop, pruning, giving up."""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, List

from edgeunet.export.int8 import greedy_fallback, parse_layer_list


class FakeScorer:
    """Score = 1 - sum of the damage of the layers still quantized; counts evaluations like VariantScorer."""

    def __init__(self, damage: Dict[str, float]) -> None:
        self.damage = damage
        self.seen: List[FrozenSet[str]] = []

    def scores(self, float_layers: Iterable[str]) -> Dict[str, Any]:
        key = frozenset(float_layers)
        self.seen.append(key)
        return {"dice": 1.0 - sum(v for k, v in self.damage.items() if k not in key)}


def passes(scores: Dict[str, Any]) -> bool:
    return bool(scores["dice"] >= 0.95)


def test_stops_at_the_first_passing_set_in_sensitivity_order() -> None:
    scorer = FakeScorer({"a": 0.2, "b": 0.04, "c": 0.03, "d": 0.0})
    assert greedy_fallback(scorer, ["a", "b", "c", "d"], [], passes) == ["a", "b"]  # type: ignore[arg-type]


def test_prunes_layers_a_later_choice_made_unnecessary() -> None:
    """A misleading order (b first) is repaired: once a is float, b is not needed."""
    scorer = FakeScorer({"a": 0.2, "b": 0.01, "c": 0.0})
    assert greedy_fallback(scorer, ["b", "a", "c"], [], passes) == ["a"]  # type: ignore[arg-type]


def test_user_layers_stay_and_an_already_passing_set_is_kept() -> None:
    scorer = FakeScorer({"a": 0.2, "b": 0.0})
    assert greedy_fallback(scorer, ["b", "a"], ["a"], passes) == ["a"]  # type: ignore[arg-type]
    assert len(scorer.seen) == 1


def test_gives_up_when_every_layer_in_float_fails() -> None:
    scorer = FakeScorer({"a": 0.01})
    assert greedy_fallback(scorer, ["a"], [], lambda s: False) is None  # type: ignore[arg-type]


def test_parse_layer_list() -> None:
    assert parse_layer_list(" /a/Conv, /b/Conv ,,") == ["/a/Conv", "/b/Conv"] and parse_layer_list(None) == []
