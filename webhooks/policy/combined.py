"""Several policy engines answering as one: truthgate's own Rego packages and Gatekeeper's
constraints read from the same policy directory.

``evaluate`` concatenates the outcomes; ``reload`` reloads each engine, and each keeps serving
its previous set when its new one fails (the first error is raised after all were tried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webhooks.errors import PolicyError
from webhooks.policy.engine import PolicyEngine, PolicyMeta, PolicyOutcome


class CombinedEngine:
    def __init__(self, *engines: PolicyEngine) -> None:
        self._engines = engines

    def policies(self) -> Sequence[PolicyMeta]:
        return [m for e in self._engines for m in e.policies()]

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        return [o for e in self._engines for o in e.evaluate(kind, input_doc)]

    def reload(self) -> None:
        failed: PolicyError | None = None
        for engine in self._engines:
            try:
                engine.reload()
            except PolicyError as e:
                failed = failed or e
        if failed is not None:
            raise failed
