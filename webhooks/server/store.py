"""A ledger handle that is safe across gunicorn's fork and across a worker's threads.

Database connections must not cross ``fork()``: a SQLite or PostgreSQL connection opened in the
master and used by two workers corrupts both sessions. ``PerProcessStore`` opens the real store
lazily in whichever process first uses it (so a worker starts, and answers under its failure
mode, even while the ledger is down) and opens a new one after a fork: the store and its open
failures live in a ``PerProcess`` slot (:mod:`webhooks.ledger.connections` owns the fork
rules). A failed open is retried only after a short cool-down, so a ledger that is down costs
each review microseconds rather than a connect timeout. The stores themselves keep one
connection per thread and reconnect after a broken connection, so calls are not serialised here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from webhooks.errors import LedgerError, TruthgateError, short
from webhooks.evidence.model import IntentRecord
from webhooks.ledger.connections import PerProcess
from webhooks.ledger.intent import ExpectedHead
from webhooks.ledger.store import ChainReport, IntentStore, RecentTable

RETRY_AFTER_SECONDS = 1.0


class _Slot:
    """One process's store, or why it last failed to open."""

    def __init__(self) -> None:
        self.store: IntentStore | None = None
        self.failed_at: float | None = None
        self.failure: LedgerError | None = None

    def close(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            store.close()


class PerProcessStore:
    """Implements IntentStore by delegating to a store opened per process, on first use."""

    def __init__(
        self,
        opener: Callable[[], IntentStore],
        clock: Callable[[], float] = time.monotonic,
        retry_after: float = RETRY_AFTER_SECONDS,
    ) -> None:
        self._opener = opener
        self._clock = clock
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._slot = PerProcess(_Slot, _Slot.close)

    def _get(self) -> IntentStore:
        with self._lock:
            return self._get_locked()

    def _get_locked(self) -> IntentStore:
        slot = self._slot.get()  # a new, empty slot after a fork
        if slot.store is not None:
            return slot.store
        if (
            slot.failed_at is not None
            and slot.failure is not None
            and self._clock() - slot.failed_at < self._retry_after
        ):
            raise slot.failure
        try:
            slot.store = self._opener()
        except LedgerError as e:
            slot.failed_at, slot.failure = self._clock(), e
            raise
        except Exception as e:  # a driver error the backend did not wrap
            err = LedgerError(f"cannot open the ledger: {short(e)}")
            slot.failed_at, slot.failure = self._clock(), err
            raise err from e
        slot.failed_at = slot.failure = None
        return slot.store

    def _call(self, fn: Callable[[IntentStore], Any]) -> Any:
        store = self._get()
        try:
            return fn(store)
        except TruthgateError:
            raise
        except Exception as e:  # a driver error the backend did not wrap
            raise LedgerError(f"ledger failure: {short(e)}") from e

    def append(self, draft: dict[str, Any]) -> IntentRecord:
        # Not serialised here: the store group-commits this worker's concurrent appends (one
        # transaction and one fsync for all of them), which a lock around it would defeat.
        record: IntentRecord = self._call(lambda s: s.append(draft))
        return record

    def intents(
        self,
        *,
        app: str | None = None,
        namespace: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[IntentRecord]:
        records: list[IntentRecord] = self._call(
            lambda s: list(s.intents(app=app, namespace=namespace, since=since, until=until))
        )
        return iter(records)

    def append_verification(self, record: dict[str, Any]) -> None:
        self._call(lambda s: s.append_verification(record))

    def verifications(self, *, app: str | None = None) -> Iterator[dict[str, Any]]:
        records: list[dict[str, Any]] = self._call(lambda s: list(s.verifications(app=app)))
        return iter(records)

    def recent(
        self, table: RecentTable, *, app: str, before: int | None, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        rows: list[tuple[int, dict[str, Any]]] = self._call(
            lambda s: s.recent(table, app=app, before=before, limit=limit)
        )
        return rows

    def verification(self, key: int) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self._call(lambda s: s.verification(key))
        return record

    def verify(self, expect: ExpectedHead | None = None) -> ChainReport:
        report: ChainReport = self._call(lambda s: s.verify(expect))
        return report

    def prune(self, older_than: datetime) -> int:
        count: int = self._call(lambda s: s.prune(older_than))
        return count

    def ping(self) -> None:
        self._call(lambda s: s.ping())

    def close(self) -> None:
        with self._lock:
            self._slot.close()
