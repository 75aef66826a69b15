"""The intents an Evidence document carries, as the checks read them.

The ledger records every write the webhook saw, including dry runs and writes a policy
refused; a check that asks "what changed this object, and when?" wants only the writes that
happened. Replayed Evidence can hold anything, so a record without a kind, a name, an
operation or a readable time is skipped rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webhooks.checks import kube
from webhooks.checks.index import ObjectKey
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence


@dataclass(frozen=True)
class Write:
    """One admitted, non-dry-run intent."""

    key: ObjectKey  # (kind, namespace, name)
    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    time: datetime
    record: dict[str, Any]  # the intent as recorded (patch, actor, app…)


def admitted(evidence: Evidence) -> Iterator[Write]:
    """Each write that happened, in the ledger's order."""
    records: list[object] = list(evidence.get("intents") or [])  # replayed input: any shape
    for intent in records:
        if not isinstance(intent, dict):
            continue
        kind = kube.get_str(intent, "kind", "kind")
        name = kube.get_str(intent, "name")
        when = try_parse_time(intent.get("time"))
        operation = intent.get("operation")
        if (
            not kind
            or not name
            or when is None
            or not isinstance(operation, str)
            or intent.get("dryRun") is True
            or kube.get_bool(intent, "decision", "allowed") is False
        ):
            continue
        yield Write((kind, kube.get_str(intent, "namespace"), name), operation, when, intent)
