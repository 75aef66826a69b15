"""The default ledger: one SQLite file shared by every gunicorn worker on the node.

Decisions:

* WAL journal, so readers (``truthgate intents``, /readyz) never block the appending workers.
* ``synchronous=FULL``: in WAL mode SQLite then fsyncs the WAL on every commit, so a record is
  on stable storage before ``append`` returns and the webhook answers the review. ``NORMAL``
  syncs only at checkpoints: it survives a crashed process but can lose the last commits on
  power loss or a kernel panic — an admitted change with no record, which is exactly the gap
  the ledger exists to close. The cost is one fsync per append (see benchmarks/ledger_bench.py).
* Appends run in ``BEGIN IMMEDIATE``: the write lock is taken before the head is read, so two
  workers (processes) can never chain onto the same head and fork the chain.
* ``busy_timeout`` bounds how long a writer waits for that lock; past it the append fails with
  LedgerError instead of hanging the review. The wait for the write lock itself is a short
  retry loop here (0.1 ms, growing to 1 ms) rather than SQLite's busy handler, which sleeps
  1, 2, 5, 10, 15, 20, 25 … ms between tries: another worker's commit takes well under a
  millisecond to a few, so those sleeps, not the work, made most of the tail latency.
* Appends from the threads of one process are group-committed (:mod:`webhooks.ledger.group`):
  one transaction and one fsync per batch.
* Reads use one connection per thread (gunicorn ``gthread`` workers); writes use one
  connection per process, whose busy handler is off. Both are re-opened after a fork
  (:mod:`webhooks.ledger.connections`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from webhooks.errors import LedgerError, short
from webhooks.ledger.connections import PerProcess, PerThread
from webhooks.ledger.intent import GENESIS
from webhooks.ledger.sqlcore import SCHEMA_VERSION, WRITE_DEADLINE_S, Cursor, SqlLedger, T

log = logging.getLogger("truthgate.ledger")

Synchronous = Literal["FULL", "NORMAL"]
BUSY_TIMEOUT_S = 5.0
LOCK_RETRY_FIRST_S = 0.0001
LOCK_RETRY_MAX_S = 0.001
HEAD_SUFFIX = ".head"  # the published head is kept beside the ledger: ledger.db.head

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    head_hash TEXT NOT NULL, head_uid TEXT, appended INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL, anchor_uid TEXT, pruned INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
    seq INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, app TEXT, namespace TEXT,
    ts INTEGER NOT NULL, hash TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_app_ts ON intents (app, ts);
CREATE INDEX IF NOT EXISTS intents_namespace_ts ON intents (namespace, ts);
CREATE INDEX IF NOT EXISTS intents_ts ON intents (ts);
CREATE TABLE IF NOT EXISTS verifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL, ts INTEGER NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verifications_app_ts ON verifications (app, ts);
CREATE INDEX IF NOT EXISTS verifications_ts ON verifications (ts);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
INSERT OR IGNORE INTO chain_head
    (id, head_hash, head_uid, appended, anchor_hash, anchor_uid, pruned)
    VALUES (1, '{GENESIS}', NULL, 0, '{GENESIS}', NULL, 0);
"""  # noqa: S608 - constants only


class SqliteStore(SqlLedger):
    def __init__(
        self,
        path: str,
        *,
        retention_days: int | None = None,
        create: bool = True,
        synchronous: Synchronous = "FULL",
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        write_deadline_s: float = WRITE_DEADLINE_S,
        key: bytes | None = None,
        head_file: str | None = None,
    ) -> None:
        self.path = str(Path(path).expanduser())
        super().__init__(
            retention_days, write_deadline_s, key, head_file or f"{self.path}{HEAD_SUFFIX}"
        )
        self._create = create
        self._synchronous = synchronous
        # A batch gives up on the write lock before its callers give up on it, so they are told
        # "busy" (not written) rather than "outcome unknown".
        self._busy_timeout_s = min(busy_timeout_s, write_deadline_s * 0.75)
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._lost: str | None = None  # why writes are refused for good (file deleted/replaced)
        self._conns = PerThread(self._connect, _close)  # reads: one connection per thread
        self._write_lock = threading.Lock()
        self._writer_conn = PerProcess(self._connect_writer, _close)  # writes: one per process
        if not create and not Path(self.path).is_file():
            raise LedgerError(f"no ledger at {self.path} (check --ledger / TRUTHGATE_LEDGER)")
        if create and not Path(self.path).parent.is_dir():
            raise LedgerError(f"ledger directory {Path(self.path).parent} does not exist")
        try:
            self._init_schema()
            st = os.stat(self.path)
            self._open_identity(create)
        except OSError as e:
            self.close()
            raise LedgerError(f"cannot open ledger {self.path}: {short(e)}") from e
        except BaseException:
            self.close()
            raise
        self._identity = (st.st_dev, st.st_ino)
        self._maybe_prune()

    def _where(self) -> str:
        return self.path

    def _check_identity(self) -> None:
        """Refuse writes for good once the file was deleted or replaced while open.

        SQLite keeps writing to the open (unlinked or renamed) inode, so without this check
        every later review would be answered as recorded and lost with the old inode; a new
        file at the path is a different, empty chain that must not silently continue it.
        """
        if self._lost is None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._lost = "was deleted"
            except OSError as e:
                raise LedgerError(f"ledger {self.path}: {short(e)}") from e
            else:
                if (st.st_dev, st.st_ino) != self._identity:
                    self._lost = "was replaced by another file"
        if self._lost is not None:
            raise LedgerError(
                f"ledger {self.path} {self._lost} while in use; writes are refused until the "
                "webhook restarts (restore the file from a backup first)"
            )

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r}, synchronous={self._synchronous})"

    # -- connections --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False only so close() may close every thread's connection; each
        # connection is still used by the one thread that opened it (PerThread).
        try:
            if self._create:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                # mode=rw: reading never creates an empty ledger where the user mistyped a path.
                conn = sqlite3.connect(
                    Path(self.path).resolve().as_uri() + "?mode=rw",
                    uri=True,
                    timeout=self._busy_timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
        except sqlite3.Error as e:
            raise LedgerError(f"cannot open ledger {self.path}: {short(e)}") from e
        return conn

    def _init_schema(self) -> None:
        conn = self._conn()
        try:
            if self._create:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("ledger %s: journal_mode is %s, not WAL", self.path, mode)
                # One script, one write transaction: workers starting together create it once.
                try:
                    conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise LedgerError(f"ledger {self.path} is busy: {short(e)}") from e
            raise LedgerError(f"{self.path} is not a truthgate ledger: {short(e)}") from e
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{self.path} is not a truthgate ledger: {short(e)}") from e
        version = int(row[0]) if row else 0
        if version != SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path} has schema version {version}; this truthgate reads "
                f"version {SCHEMA_VERSION}"
            )

    # -- SqlLedger ----------------------------------------------------------------------------

    def _run(self, op: Callable[[Cursor], T], *, write: bool, within: float | None = None) -> T:
        if write:
            lock_wait = self._busy_timeout_s
            if within is not None:  # leave a quarter for the work and the fsync
                lock_wait = min(lock_wait, within * 0.75)
            with self._write_lock:
                return self._transaction(self._writer(), op, write=True, lock_wait=lock_wait)
        return self._transaction(self._conn(), op, write=False)

    def _writer(self) -> sqlite3.Connection:
        """This process's one write connection (busy handler off: see ``_begin_immediate``).

        Writes of a process are serialised anyway (group commit, then SQLite's write lock), so
        one connection serves them all, opened after any fork, used under ``_write_lock``.
        """
        return self._writer_conn.get()

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.execute("PRAGMA busy_timeout=0")
        return conn

    def _transaction(
        self,
        conn: sqlite3.Connection,
        op: Callable[[Cursor], T],
        *,
        write: bool,
        lock_wait: float = 0.0,
    ) -> T:
        try:
            if write:
                self._begin_immediate(conn, lock_wait)
            else:
                conn.execute("BEGIN")
            try:
                result = op(conn.cursor())
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            return result
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise LedgerError(
                    f"ledger {self.path} is busy (write lock held longer than {lock_wait:.3g}s)"
                ) from e
            raise LedgerError(f"ledger {self.path}: {short(e)}") from e
        except sqlite3.Error as e:
            raise LedgerError(f"ledger {self.path}: {short(e)}") from e

    def _begin_immediate(self, conn: sqlite3.Connection, lock_wait: float) -> None:
        """Take the write lock, retrying every 0.1 to 1 ms up to the busy timeout.

        Only the write connection runs this, and its busy handler is off, so the retries are
        these rather than SQLite's sleeps.
        """
        deadline = time.monotonic() + lock_wait
        delay = LOCK_RETRY_FIRST_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, LOCK_RETRY_MAX_S)

    def _close_connections(self) -> None:
        self._conns.close_all()
        with self._write_lock:
            self._writer_conn.close()


def _is_busy(error: sqlite3.Error) -> bool:
    text = str(error)
    return "locked" in text or "busy" in text


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error as e:  # closing must not raise on shutdown
        log.debug("closing ledger connection: %s", e)
