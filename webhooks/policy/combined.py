"""Several policy engines answering as one: truthgate's own Rego packages and Gatekeeper's
constraints read from the same policy directory.

``evaluate`` concatenates the outcomes; an engine that cannot evaluate anything (PolicyError)
becomes one outcome with that error, so the other engine's outcomes stand, as one policy's
error never cancels another's. ``reload`` reloads each engine, and each keeps serving its
previous set when its new one fails (the first error is raised after all were tried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyEngine, PolicyMeta, PolicyOutcome


class CombinedEngine:
    def __init__(self, *engines: PolicyEngine) -> None:
        self._engines = engines

    def policies(self) -> Sequence[PolicyMeta]:
        return [m for e in self._engines for m in e.policies()]

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        outcomes: list[PolicyOutcome] = []
        failed: list[PolicyError] = []
        for i, engine in enumerate(self._engines):
            try:
                outcomes.extend(engine.evaluate(kind, input_doc))
            except PolicyError as e:
                failed.append(e)
                outcomes.append(PolicyOutcome(f"engine {i}", error=short(e, 300)))
        if len(failed) == len(self._engines):
            raise failed[0]  # nothing could be evaluated at all
        return outcomes

    def reload(self) -> None:
        failed: PolicyError | None = None
        for engine in self._engines:
            try:
                engine.reload()
            except PolicyError as e:
                failed = failed or e
        if failed is not None:
            raise failed
