"""The SQLite file: durable settings, clear errors for wrong paths, bounded lock waits."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.ledger.ledger_support import draft
from webhooks.errors import LedgerError
from webhooks.ledger import open_store
from webhooks.ledger.sqlite_store import SqliteStore


def test_ledger_file_is_wal_and_each_commit_is_synced(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "l.db"))
    try:
        conn = store._conn()  # the store's own connection: its settings are what count
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert 0 < conn.execute("PRAGMA busy_timeout").fetchone()[0] <= 10_000
    finally:
        store.close()


def test_url_forms_name_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.db"
    first = open_store(f"sqlite:///{path}")
    first.append(draft("a"))
    first.close()
    monkeypatch.chdir(tmp_path)
    for url in (str(path), "sqlite:l.db", "l.db"):
        store = open_store(url, create=False)
        try:
            assert [r["uid"] for r in store.intents()] == ["a"], url
        finally:
            store.close()


def test_reading_a_missing_file_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(LedgerError, match="no ledger at"):
        open_store(str(missing), create=False)
    assert not missing.exists()


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(LedgerError, match="not a truthgate ledger"):
        open_store(str(other), create=False)
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite at all, just a text file of some length" * 20)
    with pytest.raises(LedgerError, match="not a database"):
        open_store(str(junk))


def test_a_newer_schema_is_refused_rather_than_misread(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(LedgerError, match="schema version 99"):
        open_store(str(path))


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        open_store(str(tmp_path / "nowhere" / "l.db"))


def test_an_append_waiting_on_a_held_write_lock_gives_up_in_bounded_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.db"
    store = SqliteStore(str(path), busy_timeout_s=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(LedgerError, match="busy"):
            store.append(draft("blocked"))
        assert time.monotonic() - started < 3
        holder.execute("ROLLBACK")
        store.append(draft("unblocked"))
        assert [r["uid"] for r in store.intents()] == ["unblocked"]
    finally:
        holder.close()
        store.close()
