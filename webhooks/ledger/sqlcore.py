"""The ledger's SQL logic, shared by the SQLite and PostgreSQL stores.

Both backends keep the same four tables and run the same statements; a backend only supplies
connections, transactions (``_run``) and how the chain-head row is locked. Keeping one copy of
append/query/verify/prune means the two backends cannot drift apart in what they guarantee.

Tables (schema version ``SCHEMA_VERSION``):

* ``meta(key, value)`` — ``schema_version``.
* ``chain_head`` — one row: the last record's hash and uid, how many records were ever appended,
  and the retention anchor (hash/uid of the last pruned record and how many were pruned).
  Every append updates it in the same transaction, so removing the newest records is detected.
* ``intents(seq, uid UNIQUE, ts, app, namespace, hash, doc)`` — ``doc`` is the record's JSON
  text exactly as hashed; the other columns are copies for indexes and filters.
* ``verifications(id, app, ts, doc)`` — post-sync verification records (not chained, see
  docs/ledger.md: they are derived data, re-computable with ``truthgate replay``).
"""

from __future__ import annotations

import abc
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from webhooks.common.times import format_time, parse_time
from webhooks.errors import BadRequestError, LedgerError, LedgerTimeoutError
from webhooks.evidence.model import IntentRecord
from webhooks.ledger.group import GroupCommit
from webhooks.ledger.head import PublishedHead, read_head_file, write_head_file
from webhooks.ledger.intent import (
    Anchor,
    ChainHash,
    ExpectedHead,
    Head,
    IndexColumns,
    StoredRecord,
    chain_encoded,
    decode,
    index_columns,
    to_micros,
    verify_chain,
)
from webhooks.ledger.seal import key_id, seal
from webhooks.ledger.store import ChainReport, RecentTable

log = logging.getLogger("truthgate.ledger")

SCHEMA_VERSION = 1
PUBLISH_EVERY_S = 60.0  # the chain head is logged (and the head file written) at most this often
PAGE = 500  # rows per read statement: keeps every statement short and memory flat
PRUNE_EVERY_S = 3600.0  # automatic retention runs at most this often per store
# How long an append may take, waiting for its batch included: the client-side deadline. The
# API server gives the webhook 3 s by default (the chart's webhook.timeoutSeconds); the
# policies and the network need the rest. ``truthgate serve`` derives it from its own setting.
WRITE_DEADLINE_S = 2.0
PING_DEADLINE_S = 1.0  # the probe write of /readyz (the chart's probe gives up after 2 s)
# After a failed write /readyz stays 503 this long before a probe write may call it ready again.
READY_HOLD_S = 10.0

T = TypeVar("T")
_RECENT_KEYS: dict[RecentTable, str] = {"intents": "seq", "verifications": "id"}


class Cursor(Protocol):
    """The DB-API subset both drivers share."""

    def execute(self, query: Any, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SqlLedger(abc.ABC):
    """``IntentStore`` over a DB-API connection; subclasses own connections and transactions."""

    lock_head_suffix = ""  # PostgreSQL: " FOR UPDATE" (SQLite's BEGIN IMMEDIATE already locks)

    def __init__(
        self,
        retention_days: int | None,
        write_deadline_s: float,
        key: bytes | None = None,
        head_file: str | None = None,
    ) -> None:
        if retention_days is not None and retention_days <= 0:
            raise BadRequestError("retention_days must be a positive number of days")
        if write_deadline_s <= 0:
            raise BadRequestError("the ledger write deadline must be a positive number of seconds")
        self.retention_days = retention_days
        self.write_deadline_s = write_deadline_s
        self._key = key
        self.head_file = head_file
        self.ledger_id: str | None = None  # set by _open_identity
        self._next_publish = 0.0
        self._last_head: Head | None = None  # as the last batch left it (written by this process)
        self._published: Head | None = None
        self._next_prune = 0.0
        self._prune_lock = threading.Lock()
        # A ``None`` item is a readiness probe: a small write through the same path as appends.
        self._group: GroupCommit[dict[str, Any] | None, IntentRecord | None] = GroupCommit(
            self._append_batch, deadline_s=write_deadline_s
        )

    # -- what a backend provides ------------------------------------------------------------

    @abc.abstractmethod
    def _run(self, op: Callable[[Cursor], T], *, write: bool, within: float | None = None) -> T:
        """Run ``op`` in one transaction (``write``: serialized with every other writer).

        ``within``: seconds the whole call may take (default: the write deadline for writes).
        """

    def _q(self, sql: str) -> str:
        """Statements are written with ``?`` placeholders; PostgreSQL overrides this."""
        return sql

    @abc.abstractmethod
    def _check_identity(self) -> None:
        """Raise LedgerError if the ledger was deleted or replaced under us (SQLite)."""

    @abc.abstractmethod
    def _where(self) -> str:
        """The ledger's name for messages (a path, or a DSN without its password)."""

    # -- IntentStore --------------------------------------------------------------------------

    def append(self, draft: dict[str, Any]) -> IntentRecord:
        index_columns(draft)  # refuse a malformed draft before it joins a batch
        record = self._group.submit(draft)
        self._maybe_prune()
        assert record is not None  # only probes have no record
        return record

    def _append_batch(
        self, items: Sequence[dict[str, Any] | None]
    ) -> list[IntentRecord | Exception | None]:
        """Chain the drafts in order in ONE transaction (one commit, one fsync): group commit."""
        self._check_identity()
        drafts = [d for d in items if d is not None]
        probe = len(drafts) < len(items)

        moved: list[Head] = []  # the new head, once the batch wrote records

        def op(cur: Cursor) -> list[IntentRecord | Exception | None]:
            if probe:
                cur.execute(
                    self._q(
                        "INSERT INTO meta (key, value) VALUES ('heartbeat', ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    ),
                    (format_time(datetime.now(UTC)),),
                )
            if not drafts:
                return [None] * len(items)
            # Lock first, then look for the uids: a resend racing the original on another
            # replica then sees its commit instead of failing on the unique uid. As few
            # statements as possible while the lock is held: each one lets go of the GIL,
            # and getting it back can wait for another thread's Rego evaluation.
            anchor, head = self._anchor_and_head(cur, lock=True)
            uids = list(dict.fromkeys(d["uid"] for d in drafts))
            marks = ", ".join("?" * len(uids))
            cur.execute(
                self._q(f"SELECT uid, doc FROM intents WHERE uid IN ({marks})"),  # noqa: S608
                uids,
            )
            stored: dict[str, IntentRecord] = {uid: decode(doc) for uid, doc in cur.fetchall()}
            prev, seq, last_uid = head.hash, head.appended, head.uid
            out: list[IntentRecord | Exception | None] = []
            for draft in drafts:
                uid = draft["uid"]
                if uid in stored:
                    # The API server resent the same review: the first record stands.
                    log.info("intent %s already recorded; returning the stored record", uid)
                    out.append(stored[uid])
                    continue
                try:
                    record, doc = chain_encoded(draft, prev)
                except BadRequestError as e:  # this draft alone; the batch goes on
                    out.append(e)
                    continue
                cols = index_columns(record)
                seq += 1
                cur.execute(
                    self._q(
                        "INSERT INTO intents (seq, uid, app, namespace, ts, hash, doc)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (
                        seq,
                        uid,
                        cols["app"],
                        cols["namespace"],
                        cols["ts"],
                        record["hash"],
                        doc,
                    ),
                )
                prev, last_uid = ChainHash(record["hash"]), uid
                stored[uid] = record
                out.append(record)
            if seq != head.appended:
                cur.execute(
                    self._q(
                        "UPDATE chain_head SET head_hash = ?, head_uid = ?, appended = ?"
                        " WHERE id = 1"
                    ),
                    (prev, last_uid, seq),
                )
                self._write_seal(cur, Head(prev, last_uid, seq), anchor)
                moved.append(Head(prev, last_uid, seq))
            results = iter(out)
            return [None if item is None else next(results) for item in items]

        results = self._run(op, write=True, within=self._group.time_left())
        if moved:
            self._last_head = moved[-1]
            self._maybe_publish()
        return results

    def intents(
        self,
        *,
        app: str | None = None,
        namespace: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[IntentRecord]:
        where, params = [], []
        for clause, value in (
            ("app = ?", app),
            ("namespace = ?", namespace),
            ("ts >= ?", None if since is None else to_micros(since)),
            ("ts <= ?", None if until is None else to_micros(until)),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        for _, _, doc in self._pages("seq", "intents", "doc", where, params):
            yield decode(doc)

    def append_verification(self, record: dict[str, Any]) -> None:
        app = record.get("app")
        if not isinstance(app, str) or not app:
            raise BadRequestError("verification record lacks an app")
        doc = dict(record)
        doc.setdefault("time", format_time(datetime.now(UTC)))
        ts = to_micros(parse_time(doc["time"]))
        try:
            text = json.dumps(
                doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        except (TypeError, ValueError) as e:
            raise BadRequestError(f"verification record is not plain JSON: {e}") from e

        def op(cur: Cursor) -> None:
            cur.execute(
                self._q("INSERT INTO verifications (app, ts, doc) VALUES (?, ?, ?)"),
                (app, ts, text),
            )

        self._run(op, write=True)

    def verifications(self, *, app: str | None = None) -> Iterator[dict[str, Any]]:
        where, params = (["app = ?"], [app]) if app is not None else ([], [])
        for _, _, doc in self._pages("id", "verifications", "doc", where, params):
            value: dict[str, Any] = json.loads(doc)
            yield value

    def recent(
        self, table: RecentTable, *, app: str, before: int | None, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` records of ``app``, newest first, with their key (``seq`` or ``id``).

        ``before`` is the key of the last record of the previous page (keyset pagination: no
        offsets, so a page stays right while new records arrive).
        """
        if limit < 1:
            raise BadRequestError("limit must be at least 1")
        key = _RECENT_KEYS[table]
        where = ["app = ?"] + ([] if before is None else [f"{key} < ?"])
        params: list[Any] = [app] + ([] if before is None else [before])
        sql = self._q(
            f"SELECT {key}, doc FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608 - fixed names
            f" ORDER BY {key} DESC LIMIT {int(limit)}"
        )

        def op(cur: Cursor) -> list[Any]:
            cur.execute(sql, params)
            return list(cur.fetchall())

        return [(int(k), json.loads(doc)) for k, doc in self._run(op, write=False)]

    def verification(self, key: int) -> dict[str, Any] | None:
        """One verification record by its ``id`` (as ``recent`` returns it), or None."""

        def op(cur: Cursor) -> Any:
            cur.execute(self._q("SELECT doc FROM verifications WHERE id = ?"), (key,))
            return cur.fetchone()

        row = self._run(op, write=False)
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def verify(self, expect: ExpectedHead | None = None) -> ChainReport:
        def state(cur: Cursor) -> tuple[Anchor, Head, dict[str, str]]:
            anchor, head = self._anchor_and_head(cur)
            return anchor, head, self._meta(cur)

        anchor, head, meta = self._run(state, write=False)
        rows = (
            StoredRecord(doc, IndexColumns(uid=uid, app=app, namespace=ns, ts=int(ts)))
            for _, (uid, app, ns, ts), doc in self._pages(
                "seq", "intents", "uid, app, namespace, ts, doc", [], []
            )
        )
        report = verify_chain(rows, anchor, head, expect)
        ledger_id = meta.get("ledger_id")
        report = replace(report, ledger_id=ledger_id)
        if self._key is None or not report.ok:
            return report
        stored = meta.get("seal")
        wanted = self._seal_of(self._key, ledger_id, head, anchor)
        if stored is None:
            return replace(
                report,
                ok=False,
                reason="not sealed: no write was made with a ledger key (or the seal was removed)",
            )
        if not hmac.compare_digest(stored, wanted):
            return replace(
                report,
                ok=False,
                reason="seal does not match: the head or the retention anchor was rewritten, "
                "the records re-chained, or the key is not the one the ledger was written with",
            )
        return replace(report, sealed=True)

    def prune(self, older_than: datetime) -> int:
        """Drop the oldest records with a time before ``older_than``.

        Only a prefix of the chain is ever dropped (up to the first record at or after the cut,
        even if a later record carries an older time from a skewed clock), and the last dropped
        record's hash becomes the anchor ``verify`` starts from.
        """
        cut = to_micros(older_than)

        def op(cur: Cursor) -> int:
            anchor, head = self._anchor_and_head(cur, lock=True)
            cur.execute(self._q("SELECT MIN(seq) FROM intents WHERE ts >= ?"), (cut,))
            first_kept = cur.fetchone()[0]
            stop = head.appended + 1 if first_kept is None else int(first_kept)
            cur.execute(
                self._q(
                    "SELECT seq, uid, hash FROM intents WHERE seq < ? ORDER BY seq DESC LIMIT 1"
                ),
                (stop,),
            )
            last = cur.fetchone()
            dropped = 0
            if last is not None:
                cur.execute(self._q("SELECT COUNT(*) FROM intents WHERE seq < ?"), (stop,))
                dropped = int(cur.fetchone()[0])
                cur.execute(self._q("DELETE FROM intents WHERE seq < ?"), (stop,))
                cur.execute(
                    self._q(
                        "UPDATE chain_head SET anchor_hash = ?, anchor_uid = ?, pruned = ?"
                        " WHERE id = 1"
                    ),
                    (last[2], last[1], anchor.pruned + dropped),
                )
                self._write_seal(cur, head, Anchor(ChainHash(last[2]), anchor.pruned + dropped))
            cur.execute(self._q("DELETE FROM verifications WHERE ts < ?"), (cut,))
            return dropped

        dropped = self._run(op, write=True)
        if dropped:
            log.info("retention pruned %d intent record(s) older than %s", dropped, older_than)
        return dropped

    def ping(self) -> None:
        """Raise LedgerError unless a write would succeed now; never longer than the deadline.

        Not ready while a write is stuck, while the ledger file is gone or replaced, for
        ``READY_HOLD_S`` after a failed write, and when a probe write (a heartbeat row, through
        the same group commit as appends) fails or misses the deadline.
        """
        health = self._group.health()
        if health.stuck_s > self.write_deadline_s:
            raise LedgerTimeoutError(f"ledger write stuck for {health.stuck_s:.1f}s")
        self._check_identity()
        if health.failed_s is not None and health.failed_s < READY_HOLD_S:
            raise LedgerError(f"ledger write failed {health.failed_s:.1f}s ago: {health.failure}")
        self._group.submit(None, PING_DEADLINE_S)

    def close(self) -> None:
        self._group.close()
        self._maybe_publish(now=True)  # from memory: closing never waits on the database
        self._close_connections()

    @abc.abstractmethod
    def _close_connections(self) -> None: ...

    # -- identity, seal and the published head ------------------------------------------------

    def _meta(self, cur: Cursor) -> dict[str, str]:
        cur.execute("SELECT key, value FROM meta")
        return {str(k): str(v) for k, v in cur.fetchall()}

    def _set_meta(self, cur: Cursor, key: str, value: str) -> None:
        cur.execute(
            self._q(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            (key, value),
        )

    def _write_seal(self, cur: Cursor, head: Head, anchor: Anchor) -> None:
        if self._key is not None:
            self._set_meta(cur, "seal", self._seal_of(self._key, self.ledger_id, head, anchor))

    @staticmethod
    def _seal_of(key: bytes, ledger_id: str | None, head: Head, anchor: Anchor) -> str:
        return seal(
            key,
            ledger_id=ledger_id or "",
            head_hash=head.hash,
            appended=head.appended,
            anchor_hash=anchor.prev_hash,
            pruned=anchor.pruned,
        )

    def _open_identity(self, create: bool) -> None:
        """Give a new ledger its id, check it against the published head, seal it if keyed.

        A writer refuses a ledger that is not the one its head file describes (another id, or
        fewer records than were published): a deleted or replaced ledger must not quietly start
        again from nothing.
        """

        def op(cur: Cursor) -> tuple[dict[str, str], Anchor, Head]:
            # The head row lock first: replicas starting together agree on one ledger id.
            anchor, head = self._anchor_and_head(cur, lock=create)
            meta = self._meta(cur)
            if create and "ledger_id" not in meta:
                self._set_meta(cur, "ledger_id", secrets.token_hex(16))
                meta = self._meta(cur)
            self.ledger_id = meta.get("ledger_id")
            if create and self._key is not None:
                wanted = self._seal_of(self._key, self.ledger_id, head, anchor)
                stored = meta.get("seal")
                if stored is None:
                    log.info("ledger sealed with key %s for the first time", key_id(self._key))
                    self._set_meta(cur, "seal", wanted)
                elif not hmac.compare_digest(stored, wanted):
                    log.error(
                        "ledger seal does not match its head: it changed while truthgate was "
                        "not writing, or the key changed; run `truthgate intents verify`"
                    )
            return meta, anchor, head

        _, _, head = self._run(op, write=create)
        if create:
            published = read_head_file(self.head_file) if self.head_file else None
            if published is not None:
                problem = published.contradicts(self.ledger_id, head.appended)
                if problem is not None:
                    raise LedgerError(
                        f"ledger {self._where()} {problem} (head file {self.head_file}); "
                        "restore the ledger from a backup, or move the head file away to start "
                        "a new ledger"
                    )
            self._publish(head)

    def _maybe_publish(self, *, now: bool = False) -> None:
        head = self._last_head
        if head is None or head == self._published:
            return
        if now or time.monotonic() >= self._next_publish:
            self._publish(head)

    def _publish(self, head: Head) -> None:
        """Log the head (and write the head file) so a later verify can be held to it."""
        self._next_publish = time.monotonic() + PUBLISH_EVERY_S
        self._last_head = self._published = head
        published = PublishedHead(self.ledger_id or "", head.hash, head.appended)
        log.info("ledger head %s", published.to_json())
        if self.head_file:
            try:
                write_head_file(self.head_file, published)
            except OSError as e:
                log.warning("could not write the head file %s: %s", self.head_file, e)

    # -- shared helpers -----------------------------------------------------------------------

    def _head(self, cur: Cursor, *, lock: bool = False) -> Head:
        return self._anchor_and_head(cur, lock=lock)[1]

    def _anchor_and_head(self, cur: Cursor, *, lock: bool = False) -> tuple[Anchor, Head]:
        suffix = self.lock_head_suffix if lock else ""
        sql = "SELECT head_hash, head_uid, appended, anchor_hash, pruned FROM chain_head"
        cur.execute(f"{sql} WHERE id = 1{suffix}")
        row = cur.fetchone()
        if row is None:
            raise LedgerError("ledger has no chain head row: not initialised or damaged")
        head_hash, head_uid, appended, anchor_hash, pruned = row
        return (
            Anchor(ChainHash(anchor_hash), int(pruned)),
            Head(ChainHash(head_hash), head_uid, int(appended)),
        )

    def _pages(
        self, key: str, table: str, cols: str, where: list[str], params: list[Any]
    ) -> Iterator[tuple[int, Any, Any]]:
        """Rows in ``key`` order, a page per short statement (keyset pagination).

        Yields ``(key, other columns but the last, last column)``. No transaction stays open
        between pages, so a slow consumer never holds a lock or a snapshot.
        """
        last = -1
        while True:
            clauses = " AND ".join([f"{key} > ?", *where])
            sql = self._q(
                f"SELECT {key}, {cols} FROM {table} WHERE {clauses}"  # noqa: S608 - fixed names
                f" ORDER BY {key} LIMIT {PAGE}"
            )

            def page(cur: Cursor, sql: str = sql, bound: int = last) -> list[Any]:
                cur.execute(sql, (bound, *params))
                return list(cur.fetchall())

            rows = self._run(page, write=False)
            for row in rows:
                values = tuple(row)
                yield int(values[0]), values[1:-1], values[-1]
            if len(rows) < PAGE:
                return
            last = int(rows[-1][0])

    def _maybe_prune(self) -> None:
        """Apply ``retention_days`` at most once per ``PRUNE_EVERY_S``; never fail an append."""
        if self.retention_days is None or time.monotonic() < self._next_prune:
            return
        if not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
            self.prune(datetime.now(UTC) - timedelta(days=self.retention_days))
        except LedgerError as e:
            log.warning("retention prune failed (will retry later): %s", e)
        finally:
            self._prune_lock.release()
