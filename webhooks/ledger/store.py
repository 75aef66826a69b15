"""The one interface every ledger backend implements (SQLite default, PostgreSQL for HA).

``append`` returns only after the record is durable (committed and synced): the webhook answers
a review only after that, so an acknowledged change is never lost. Records are chained by hash
(``prevHash`` → ``hash``) in append order; ``verify`` walks the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from webhooks.evidence.model import IntentRecord

if TYPE_CHECKING:
    from webhooks.ledger.intent import ExpectedHead

RecentTable = Literal["intents", "verifications"]


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_bad: str | None = None  # uid of the first record that does not verify
    reason: str | None = None
    head: str | None = None  # hash of the last record when ok (note it to detect a rewrite)
    pruned: int = 0  # records dropped by retention before the first verified one
    sealed: bool = False  # the head and anchor carry a valid seal of the key given to verify
    ledger_id: str | None = None  # the ledger's random id (tells one ledger from another)


class IntentStore(Protocol):
    def append(self, draft: dict[str, Any]) -> IntentRecord:
        """Chain ``draft`` (an IntentRecord without prevHash/hash) and persist it durably."""
        ...

    def intents(
        self,
        *,
        app: str | None = None,
        namespace: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[IntentRecord]:
        """Records in append order, filtered."""
        ...

    def append_verification(self, record: dict[str, Any]) -> None:
        """Persist one post-sync verification record (verdict summary per app/revision)."""
        ...

    def verifications(self, *, app: str | None = None) -> Iterator[dict[str, Any]]: ...

    def recent(
        self, table: RecentTable, *, app: str, before: int | None, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Newest first: up to ``limit`` records of ``app`` keyed below ``before`` (paging)."""
        ...

    def verification(self, key: int) -> dict[str, Any] | None:
        """One verification record by the key ``recent`` gave it."""
        ...

    def verify(self, expect: ExpectedHead | None = None) -> ChainReport:
        """Walk the hash chain from the first record; report the first break.

        ``expect``: a head published earlier that the chain must still hold. With a ledger
        key, the seal over the head and the retention anchor must match too.
        """
        ...

    def prune(self, older_than: datetime) -> int:
        """Retention: drop records older than the cut, keeping the chain verifiable."""
        ...

    def ping(self) -> None:
        """Raise LedgerError unless the backend answers now (used by /readyz)."""
        ...

    def close(self) -> None: ...
