"""Group commit: concurrent appends share a transaction, keep their order, and share a failure."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.ledger.ledger_support import draft
from webhooks.errors import BadRequestError, LedgerError, LedgerTimeoutError
from webhooks.ledger.group import GroupCommit
from webhooks.ledger.sqlite_store import SqliteStore


class GatedCommit:
    """A batch writer whose first batch waits for a gate, so others queue up behind it."""

    def __init__(self, fail_with: Callable[[Sequence[str]], Exception | None] = lambda b: None):
        self.gate = threading.Event()
        self.entered = threading.Event()  # the first batch is being written
        self.batches: list[list[str]] = []
        self._fail_with = fail_with

    def __call__(self, items: Sequence[str]) -> list[str | Exception]:
        if not self.batches:
            self.entered.set()
            self.gate.wait(10)
        self.batches.append(list(items))
        error = self._fail_with(items)
        if error is not None:
            raise error
        return [BadRequestError(f"{i} is bad") if i.startswith("bad") else f"ok:{i}" for i in items]


def _queue_in_order(
    group: GroupCommit[str, str], pool: ThreadPoolExecutor, items: list[str]
) -> list[Future[str]]:
    """Submit one at a time, each only once the previous one is queued (deterministic order)."""
    futures = []
    for n, item in enumerate(items):
        futures.append(pool.submit(group.submit, item))
        deadline = time.monotonic() + 5
        while group.pending() < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    return futures


def test_appends_queued_behind_a_commit_go_together_in_arrival_order() -> None:
    commit = GatedCommit()
    group: GroupCommit[str, str] = GroupCommit(commit, deadline_s=10)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.submit, "a")
        assert commit.entered.wait(5)  # the leader took "a" and waits at the gate
        later = _queue_in_order(group, pool, ["b", "c", "d", "e"])
        commit.gate.set()
        assert first.result(5) == "ok:a"
        assert [f.result(5) for f in later] == ["ok:b", "ok:c", "ok:d", "ok:e"]
    assert commit.batches == [["a"], ["b", "c", "d", "e"]]


def test_a_failed_batch_fails_every_append_in_it_and_the_next_batch_still_runs() -> None:
    def fail(items: Sequence[str]) -> Exception | None:
        return LedgerError("disk I/O error") if "b" in items else None

    commit = GatedCommit(fail)
    group: GroupCommit[str, str] = GroupCommit(commit, deadline_s=10)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.submit, "a")
        assert commit.entered.wait(5)
        doomed = _queue_in_order(group, pool, ["b", "c"])
        commit.gate.set()
        assert first.result(5) == "ok:a"
        for f in doomed:
            with pytest.raises(LedgerError, match="disk I/O error"):
                f.result(5)
        assert group.submit("f") == "ok:f"  # leadership was handed on: no one is stuck


def test_a_draft_that_cannot_be_chained_fails_alone() -> None:
    commit = GatedCommit()
    group: GroupCommit[str, str] = GroupCommit(commit, deadline_s=10)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.submit, "a")
        assert commit.entered.wait(5)
        later = _queue_in_order(group, pool, ["b", "bad-c", "d"])
        commit.gate.set()
        first.result(5)
        assert later[0].result(5) == "ok:b"
        with pytest.raises(BadRequestError, match="bad-c is bad"):
            later[1].result(5)
        assert later[2].result(5) == "ok:d"


def test_no_caller_waits_past_the_deadline_while_a_commit_hangs() -> None:
    commit = GatedCommit()
    group: GroupCommit[str, str] = GroupCommit(commit, deadline_s=0.3)
    with ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        first = pool.submit(group.submit, "a")
        assert commit.entered.wait(5)  # the committer took "a" and hangs at the gate
        queued = pool.submit(group.submit, "b")
        with pytest.raises(LedgerTimeoutError, match="may still be written"):
            first.result(5)
        with pytest.raises(LedgerTimeoutError, match="not written"):
            queued.result(5)
        assert time.monotonic() - started < 2
        # Stuck past the deadline: a new append fails at once instead of queueing.
        quick = time.monotonic()
        with pytest.raises(LedgerTimeoutError, match="stuck"):
            group.submit("c")
        assert time.monotonic() - quick < 0.1
        assert group.health().stuck_s > 0.3
        commit.gate.set()
        deadline = time.monotonic() + 5
        while group.health().stuck_s and time.monotonic() < deadline:
            time.sleep(0.01)
        assert group.submit("d") == "ok:d"  # the committer is free again: writes resume
    assert commit.batches == [["a"], ["d"]]  # "b" and "c" answered "not written", and were not


def test_health_reports_a_failed_batch_until_a_batch_succeeds() -> None:
    def fail(items: Sequence[str]) -> Exception | None:
        return LedgerError("database or disk is full") if "big" in items else None

    commit = GatedCommit(fail)
    commit.gate.set()
    group: GroupCommit[str, str] = GroupCommit(commit, deadline_s=5)
    assert group.submit("a") == "ok:a"
    assert group.health().failed_s is None
    with pytest.raises(LedgerError, match="full"):
        group.submit("big")
    health = group.health()
    assert health.failed_s is not None and "full" in (health.failure or "")
    assert group.submit("small") == "ok:small"
    assert group.health().failed_s is None


def _many_threads_append(store: SqliteStore, threads: int, each: int) -> None:
    def work(t: int) -> None:
        for i in range(each):
            store.append(draft(f"t{t}-{i:03d}", image=f"web:{t}.{i}"))

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(work, t) for t in range(threads)]:
            f.result(60)


def test_concurrent_threads_build_one_verifiable_chain_in_each_threads_order(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "ledger.db"))
    try:
        _many_threads_append(store, threads=8, each=25)
        records = list(store.intents())
        report = store.verify()
    finally:
        store.close()
    assert report.ok, report
    assert report.records == 200
    assert len({r["prevHash"] for r in records}) == 200  # no fork in the chain
    for t in range(8):  # each thread's appends are chained in the order it made them
        mine = [r["uid"] for r in records if r["uid"].startswith(f"t{t}-")]
        assert mine == sorted(mine)


def test_a_resent_uid_in_the_same_batch_returns_the_first_record(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "ledger.db"))
    try:
        results = store._append_batch([draft("same"), draft("same", image="web:other")])
        report = store.verify()
    finally:
        store.close()
    assert results[0] == results[1]
    assert report.ok and report.records == 1


def test_every_append_of_a_batch_fails_when_the_write_lock_cannot_be_had(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    store = SqliteStore(path, write_deadline_s=0.3)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(store.append, draft(f"u{i}")) for i in range(4)]
            started = time.monotonic()
            errors: list[Any] = []
            for f in futures:
                with pytest.raises(
                    LedgerError, match=r"busy|not written|may still be written"
                ) as caught:
                    f.result(10)
                errors.append(caught.value)
            assert time.monotonic() - started < 3  # bounded by the busy timeout per batch
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert store.verify().records == 0  # nothing of the failed batches was committed
        store.append(draft("after"))  # and the store works once the lock is free
        assert [r["uid"] for r in store.intents()] == ["after"]
    finally:
        store.close()


def test_after_a_batch_times_out_appends_fail_at_once_for_one_deadline() -> None:
    calls: list[list[str]] = []

    def commit(items: Sequence[str]) -> list[str | Exception]:
        calls.append(list(items))
        if items[0] == "hangs":
            raise LedgerTimeoutError("ledger did not answer within 0.3s")
        return [f"ok:{i}" for i in items]

    group: GroupCommit[str, str] = GroupCommit(commit, deadline_s=0.3)
    with pytest.raises(LedgerTimeoutError, match="did not answer"):
        group.submit("hangs")
    quick = time.monotonic()
    with pytest.raises(LedgerTimeoutError, match="timed out just now"):
        group.submit("a")
    assert time.monotonic() - quick < 0.1
    time.sleep(0.35)
    assert group.submit("b") == "ok:b"  # one deadline later the database is tried again
    assert calls == [["hangs"], ["b"]]
