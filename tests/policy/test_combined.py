"""Two engines answering as one: an engine that cannot evaluate cancels nothing of the other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from webhooks.errors import PolicyError
from webhooks.policy.combined import CombinedEngine
from webhooks.policy.engine import PolicyMeta, PolicyOutcome


class Fixed:
    def __init__(self, outcome: PolicyOutcome | None, reload_error: str | None = None) -> None:
        self.outcome, self.reload_error, self.reloaded = outcome, reload_error, 0

    def policies(self) -> Sequence[PolicyMeta]:
        return [PolicyMeta(self.outcome.package if self.outcome else "down", "", "")]

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        if self.outcome is None:
            raise PolicyError("input refused")
        return [self.outcome]

    def reload(self) -> None:
        self.reloaded += 1
        if self.reload_error:
            raise PolicyError(self.reload_error)


def test_outcomes_and_policies_of_both_engines() -> None:
    a, b = PolicyOutcome("a", denials=("no",)), PolicyOutcome("b", warnings=("hm",))
    engine = CombinedEngine(Fixed(a), Fixed(b))
    assert engine.evaluate("Pod", {}) == [a, b]
    assert [m.package for m in engine.policies()] == ["a", "b"]


def test_an_engine_that_cannot_evaluate_is_one_error_outcome() -> None:
    a = PolicyOutcome("a", denials=("no",))
    outcomes = CombinedEngine(Fixed(None), Fixed(a)).evaluate("Pod", {})
    assert outcomes[1] == a
    assert outcomes[0].error == "input refused"
    with pytest.raises(PolicyError, match="input refused"):
        CombinedEngine(Fixed(None), Fixed(None)).evaluate("Pod", {})


def test_reload_tries_every_engine_and_raises_the_first_error() -> None:
    first, second = Fixed(None, "a.rego: broken"), Fixed(None)
    with pytest.raises(PolicyError, match=r"a\.rego: broken"):
        CombinedEngine(first, second).reload()
    assert (first.reloaded, second.reloaded) == (1, 1)
