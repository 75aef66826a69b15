"""The one interface every Rego engine implements.

A policy is one Rego package with ``deny contains msg`` and/or ``warn contains msg`` rules and a
METADATA block naming the kinds it targets. The engine loads policies once (start-up, reload),
routes each input only to the policies that target its kind, and reports per-policy outcomes.
What an outcome *does* (deny, warn, dry-run) is configuration, applied by the admission decision.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class EnforcementAction(enum.StrEnum):
    DENY = "deny"  # deny messages reject the request
    WARN = "warn"  # deny messages become warnings
    DRYRUN = "dryrun"  # evaluated and recorded, never shown to the requester


@dataclass(frozen=True)
class PolicyMeta:
    """What the METADATA block of one policy package says."""

    package: str  # e.g. "truthgate.admission.mutable_images"
    title: str
    description: str
    kinds: frozenset[str] = field(default_factory=frozenset)  # empty = every kind; "*" too
    source: str = ""  # file it came from


@dataclass(frozen=True)
class PolicyOutcome:
    """What one policy said about one input, or why it could not say (``error``).

    One policy's error is its own: the other policies' outcomes of the same evaluation stand,
    so a broken policy never cancels another's denial (the failure mode applies to it alone).
    """

    package: str
    denials: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # The action the policy itself asks for (a Gatekeeper constraint's enforcementAction);
    # None: the enforcement config decides. An explicit entry in the config wins either way.
    action: EnforcementAction | None = None
    error: str | None = None


class PolicyEngine(Protocol):
    """Evaluates admission policies. Implementations must be safe to call from many threads."""

    def policies(self) -> Sequence[PolicyMeta]:
        """Every loaded policy (after the last load/reload)."""
        ...

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        """Evaluate the policies targeting ``kind``, one outcome per policy.

        A policy that fails on this input has its ``error`` set; PolicyError is raised only
        when nothing could be evaluated at all (input refused, engine unreachable).
        """
        ...

    def reload(self) -> None:
        """Re-read the policy directory; keep serving the old set if the new one fails."""
        ...
