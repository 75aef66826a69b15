"""``open_store(url)``: the one way the webhook, the verifier and the CLI get a ledger.

The backend is chosen by the URL (see :mod:`webhooks.ledger.url`); drivers are imported only
for the backend in use, so a SQLite-only install never loads psycopg.
"""

from __future__ import annotations

from webhooks.ledger.sqlcore import WRITE_DEADLINE_S
from webhooks.ledger.store import IntentStore
from webhooks.ledger.url import parse_ledger_url


def open_store(
    url: str,
    *,
    retention_days: int | None = None,
    create: bool = True,
    write_deadline_s: float = WRITE_DEADLINE_S,
    key: bytes | None = None,
    head_file: str | None = None,
) -> IntentStore:
    """Open (and on first use create) the ledger named by ``url``.

    ``retention_days``: records older than this are pruned (keeping the chain verifiable) on
    open and then at most hourly during appends. ``create=False`` is for readers: a missing
    SQLite file or an uninitialised database is an error instead of a new empty ledger.
    ``write_deadline_s``: no append (nor readiness probe) takes longer; past it
    LedgerTimeoutError. ``key``: seal every write with it (see :mod:`webhooks.ledger.seal`);
    ``head_file``: where the chain head is published (SQLite default: beside the file).
    Raises LedgerError (unreachable, not a ledger, not the ledger its head file describes) or
    BadRequestError (malformed URL).
    """
    parsed = parse_ledger_url(url)
    if parsed.backend == "sqlite":
        from webhooks.ledger.sqlite_store import SqliteStore

        return SqliteStore(
            parsed.target,
            retention_days=retention_days,
            create=create,
            write_deadline_s=write_deadline_s,
            key=key,
            head_file=head_file,
        )
    from webhooks.ledger.postgres_store import PostgresStore

    return PostgresStore(
        parsed,
        retention_days=retention_days,
        create=create,
        write_deadline_s=write_deadline_s,
        key=key,
        head_file=head_file,
    )
