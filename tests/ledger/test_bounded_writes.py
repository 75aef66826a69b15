"""No ledger write outlasts its deadline, and readiness says 503 whenever writes fail.

The faults are real: the PostgreSQL server's processes are stopped with SIGSTOP, the SQLite
file is deleted or replaced under the open store, and the disk is a 1 MiB tmpfs that fills up.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ledger.ledger_support import draft, server_stopped
from tests.support.postgres import PostgresServer
from webhooks.errors import LedgerError, LedgerTimeoutError
from webhooks.ledger import open_store
from webhooks.ledger.sqlite_store import SqliteStore

DEADLINE_S = 0.5


@pytest.mark.postgres
def test_a_stopped_postgres_fails_appends_and_readiness_within_the_deadline(
    postgres_server: PostgresServer, fresh_postgres_dsn: str
) -> None:
    store = open_store(fresh_postgres_dsn, write_deadline_s=DEADLINE_S)
    try:
        store.append(draft("before"))
        store.ping()
        with server_stopped(postgres_server):
            started = time.monotonic()
            with pytest.raises(LedgerTimeoutError):
                store.append(draft("during"))
            assert time.monotonic() - started < DEADLINE_S + 0.5
            for _ in range(3):  # every later review and probe is as quick, none hangs
                started = time.monotonic()
                with pytest.raises(LedgerError):
                    store.ping()
                with pytest.raises(LedgerError):
                    store.append(draft(f"during-{_}"))
                assert time.monotonic() - started < 2 * DEADLINE_S + 0.5
        recovered = _until_ok(lambda: store.append(draft("after")), within_s=10)
        assert recovered < 10
        report = store.verify()
        assert report.ok, report
        uids = [r["uid"] for r in store.intents()]
        assert uids[0] == "before" and uids[-1] == "after"
    finally:
        store.close()


def _until_ok(call: object, within_s: float) -> float:
    started = time.monotonic()
    while True:
        try:
            call()  # type: ignore[operator]
            return time.monotonic() - started
        except LedgerError:
            if time.monotonic() - started > within_s:
                raise
            time.sleep(0.2)


def test_a_deleted_sqlite_file_refuses_writes_instead_of_losing_them(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = SqliteStore(str(path))
    try:
        store.append(draft("kept"))
        store.ping()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (tmp_path / f"ledger.db{suffix}").unlink()
        with pytest.raises(LedgerError, match="was deleted"):
            store.append(draft("would-be-lost"))
        with pytest.raises(LedgerError, match="was deleted"):
            store.ping()
    finally:
        store.close()


def test_a_replaced_sqlite_file_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = SqliteStore(str(path))
    try:
        store.append(draft("kept"))
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        os.replace(other, path)
        with pytest.raises(LedgerError, match="replaced"):
            store.append(draft("would-be-lost"))
        with pytest.raises(LedgerError, match="replaced"):
            store.ping()
    finally:
        store.close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that fills up after a few records."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[:200]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_appends_and_readiness(tiny_disk: Path) -> None:
    store = SqliteStore(str(tiny_disk / "ledger.db"), write_deadline_s=2)
    try:
        store.ping()
        failure: LedgerError | None = None
        for i in range(2000):
            try:
                store.append(draft(f"u{i}", image="x" * 20_000))
            except LedgerError as e:
                failure = e
                break
        assert failure is not None and "full" in str(failure)
        with pytest.raises(LedgerError, match="full"):
            store.ping()
        report = store.verify()  # what was acknowledged is intact
        assert report.ok and report.records == i
    finally:
        store.close()
