"""The ledger for several webhook replicas: one PostgreSQL database they all append to.

Decisions:

* Appends lock the single ``chain_head`` row (``SELECT … FOR UPDATE``) in the same transaction
  that inserts the record and moves the head, so replicas append one at a time and the chain
  never forks. ``synchronous_commit=on`` is set for the session: the commit returns only after
  the WAL is flushed (and, with synchronous replicas configured, replicated).
* Nothing may hang a review: ``connect_timeout``, TCP keepalives and ``tcp_user_timeout``
  bound a dead network; ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout`` bound a slow or contended server. Values in the DSN
  win over these defaults. A server that is stopped (or a synchronous standby that never
  confirms) honours none of these, so every call also runs under a client-side deadline
  (:mod:`webhooks.ledger.watchdog`): writes get the write deadline, reads ``READ_TIMEOUT_S``.
* One connection per thread, re-opened after a fork (:mod:`webhooks.ledger.connections`).
  A broken connection (server restart, failover) is dropped and the operation retried once on
  a fresh one; retrying an append is safe because appends are idempotent per uid.
* Every message that leaves this module goes through ``LedgerURL.scrub``: no DSN password in
  logs, errors or reprs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import conninfo

from webhooks.errors import BadRequestError, LedgerError, LedgerTimeoutError, short
from webhooks.ledger.connections import PerThread
from webhooks.ledger.intent import GENESIS
from webhooks.ledger.sqlcore import SCHEMA_VERSION, WRITE_DEADLINE_S, Cursor, SqlLedger, T
from webhooks.ledger.url import LedgerURL
from webhooks.ledger.watchdog import Watchdog

log = logging.getLogger("truthgate.ledger")

READ_TIMEOUT_S = 30.0  # one read statement (a page of records) from a client that may wait
# Defaults for the libpq connection (strings, as libpq takes them); the DSN may override each.
# connect_timeout is derived from the write deadline (libpq's minimum is 2 s).
CONNECT_DEFAULTS = {
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "2",
    "tcp_user_timeout": "5000",
    "application_name": "truthgate",
}
# Session settings (ms). SET after connecting rather than the ``options`` startup parameter,
# which some connection poolers reject.
SESSION_SETTINGS = {
    "statement_timeout": "5000",
    "lock_timeout": "3000",  # lowered to 3/4 of the write deadline
    "idle_in_transaction_session_timeout": "10000",
    "synchronous_commit": "on",
}
_SCHEMA_LOCK_KEY = 0x7472_7574_6867  # pg_advisory_xact_lock key serializing schema creation

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS chain_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        head_hash TEXT NOT NULL, head_uid TEXT, appended BIGINT NOT NULL,
        anchor_hash TEXT NOT NULL, anchor_uid TEXT, pruned BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS intents (
        seq BIGINT PRIMARY KEY, uid TEXT NOT NULL UNIQUE, app TEXT, namespace TEXT,
        ts BIGINT NOT NULL, hash TEXT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS intents_app_ts ON intents (app, ts)",
    "CREATE INDEX IF NOT EXISTS intents_namespace_ts ON intents (namespace, ts)",
    "CREATE INDEX IF NOT EXISTS intents_ts ON intents (ts)",
    """CREATE TABLE IF NOT EXISTS verifications (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        app TEXT NOT NULL, ts BIGINT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS verifications_app_ts ON verifications (app, ts)",
    "CREATE INDEX IF NOT EXISTS verifications_ts ON verifications (ts)",
    f"""INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}')
        ON CONFLICT (key) DO NOTHING""",  # noqa: S608 - constants only
    f"""INSERT INTO chain_head
        (id, head_hash, head_uid, appended, anchor_hash, anchor_uid, pruned)
        VALUES (1, '{GENESIS}', NULL, 0, '{GENESIS}', NULL, 0)
        ON CONFLICT (id) DO NOTHING""",  # noqa: S608 - constants only
]


class PostgresStore(SqlLedger):
    lock_head_suffix = " FOR UPDATE"

    def __init__(
        self,
        url: LedgerURL,
        *,
        retention_days: int | None = None,
        create: bool = True,
        write_deadline_s: float = WRITE_DEADLINE_S,
        key: bytes | None = None,
        head_file: str | None = None,
    ) -> None:
        super().__init__(retention_days, write_deadline_s, key, head_file)
        self.url = url
        try:
            params = conninfo.conninfo_to_dict(url.target)
        except psycopg.Error:
            # Not chained: libpq's parse errors can quote the DSN, password included.
            raise BadRequestError(f"malformed PostgreSQL URL {url.display}") from None
        connect_timeout = str(max(2, math.ceil(write_deadline_s)))
        self._params: dict[str, Any] = {
            **CONNECT_DEFAULTS,
            "connect_timeout": connect_timeout,
            **params,
        }
        deadline_ms = str(max(1, int(write_deadline_s * 1000)))
        self._session = {
            **SESSION_SETTINGS,
            # The server gives up on the chain lock first, so callers are told "busy" (not
            # written) rather than "outcome unknown" by the client-side deadline.
            "lock_timeout": str(
                min(int(SESSION_SETTINGS["lock_timeout"]), int(int(deadline_ms) * 0.75))
            ),
        }
        self._watchdog = Watchdog()
        self._conns: PerThread[psycopg.Connection[Any]] = PerThread(self._connect, self._close)
        try:
            self._init_schema(create)
            self._open_identity(create)
        except BaseException:
            self.close()
            raise
        self._maybe_prune()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url.display!r})"

    def _where(self) -> str:
        return self.url.display

    def _check_identity(self) -> None:
        """Nothing to check: a database has no file to delete under an open connection."""

    def _error(self, what: str, e: BaseException) -> LedgerError:
        detail = short(" ".join(str(e).split()))  # libpq messages span several lines
        return LedgerError(self.url.scrub(f"{what} {self.url.display}: {detail}"))

    # -- connections --------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as e:
            raise self._error("cannot reach ledger", e) from e
        try:
            with (
                self._watchdog.guard(conn.pgconn.socket, self.write_deadline_s),
                conn.cursor() as cur,
            ):
                for name, value in self._session.items():
                    cur.execute("SELECT set_config(%s, %s, false)", (name, value))
        except psycopg.Error as e:
            conn.close()
            raise self._error("cannot configure ledger session on", e) from e
        return conn

    def _close(self, conn: psycopg.Connection[Any]) -> None:
        try:
            conn.close()
        except psycopg.Error as e:  # closing must not raise on shutdown
            log.debug("closing ledger connection: %s", self.url.scrub(str(e)))

    def _init_schema(self, create: bool) -> None:
        def stored_version(cur: Cursor) -> str | None:
            if cur.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
                return None
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return None if row is None else str(row[0])

        def op(cur: Cursor) -> str | None:
            # An existing ledger needs no DDL, so the webhook's role may lack CREATE rights
            # once the schema exists (created by a first run or an admin).
            found = stored_version(cur)
            if found is not None or not create:
                return found
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            for statement in _SCHEMA:
                cur.execute(statement)
            return stored_version(cur)

        version = self._run(op, write=True)
        if version is None:
            raise LedgerError(f"{self.url.display} holds no truthgate ledger")
        if int(version) != SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.url.display} has schema version {version}; this truthgate reads "
                f"version {SCHEMA_VERSION}"
            )

    # -- SqlLedger ----------------------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _run(self, op: Callable[[Cursor], T], *, write: bool, within: float | None = None) -> T:
        # ``write`` needs no lock here (appends serialize on the head row lock), only a bound.
        bound = self.write_deadline_s if write else READ_TIMEOUT_S
        if within is not None:
            bound = min(bound, max(within, 0.001))
        for attempt in (1, 2):
            conn = self._conns.get()
            try:
                with (
                    self._watchdog.guard(conn.pgconn.socket, bound) as overran,
                    conn.transaction(),
                    conn.cursor() as cur,
                ):
                    return op(cur)
            except psycopg.OperationalError as e:
                if overran.fired:
                    self._conns.discard(conn)
                    raise LedgerTimeoutError(
                        self.url.scrub(
                            f"ledger {self.url.display} did not answer within {bound:g}s"
                        )
                    ) from e
                if conn.broken and attempt == 1:
                    log.warning(
                        "ledger connection lost (%s); reconnecting", self.url.scrub(short(e, 120))
                    )
                    self._conns.discard(conn)
                    continue
                if isinstance(e, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
                    raise self._error("ledger busy (timed out waiting)", e) from e
                raise self._error("ledger failed", e) from e
            except psycopg.Error as e:
                raise self._error("ledger failed", e) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_connections(self) -> None:
        self._conns.close_all()
