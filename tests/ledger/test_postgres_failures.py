"""A broken or unreachable PostgreSQL fails fast, says why, and never shows the password."""

from __future__ import annotations

import socket
import threading
import time
import traceback
from collections.abc import Iterator

import psycopg
import pytest

from tests.ledger.ledger_support import draft
from tests.support.net import free_port
from tests.support.postgres import PostgresServer
from webhooks.errors import LedgerError
from webhooks.ledger import open_store

pytestmark = pytest.mark.postgres

SECRET = "s3cr3t-Pa55word"


def _whole_story(e: BaseException) -> str:
    """Message, reprs and the chained causes, as a log with a traceback would show them."""
    return "".join(traceback.format_exception(e)) + repr(e)


def test_closed_port_raises_ledger_error_quickly_without_the_password() -> None:
    url = f"postgresql://truthgate:{SECRET}@127.0.0.1:{free_port()}/ledger"
    started = time.monotonic()
    with pytest.raises(LedgerError) as caught:
        open_store(url)
    assert time.monotonic() - started < 5
    assert "cannot reach ledger" in str(caught.value)
    assert "truthgate:***@127.0.0.1" in str(caught.value)
    assert SECRET not in _whole_story(caught.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers: a hung server or a black-holed network."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_times_out_within_the_connect_bound(
    silent_server: int,
) -> None:
    started = time.monotonic()
    with pytest.raises(LedgerError) as caught:
        open_store(f"postgresql://truthgate:{SECRET}@127.0.0.1:{silent_server}/ledger")
    assert time.monotonic() - started < 8  # connect_timeout=3, not forever
    assert SECRET not in _whole_story(caught.value)


def test_wrong_password_is_refused_without_echoing_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.dsn("postgres").replace(postgres_server.password, SECRET)
    with pytest.raises(LedgerError) as caught:
        open_store(url)
    assert "authentication failed" in str(caught.value)
    assert SECRET not in _whole_story(caught.value)


def test_store_repr_hides_the_password(
    fresh_postgres_dsn: str, postgres_server: PostgresServer
) -> None:
    store = open_store(fresh_postgres_dsn)
    try:
        assert postgres_server.password not in repr(store)
        assert "***" in repr(store)
    finally:
        store.close()


def test_store_reconnects_after_its_connection_is_killed(fresh_postgres_dsn: str) -> None:
    # What a server restart or failover does to a client: its session is terminated.
    store = open_store(fresh_postgres_dsn)
    try:
        store.append(draft("before"))
        with psycopg.connect(fresh_postgres_dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed is not None and killed[0] >= 1

        store.append(draft("after"))
        store.ping()
        assert [r["uid"] for r in store.intents()] == ["before", "after"]
        assert store.verify().ok
    finally:
        store.close()


def test_an_append_waiting_on_a_held_chain_lock_gives_up_in_bounded_time(
    fresh_postgres_dsn: str,
) -> None:
    store = open_store(fresh_postgres_dsn)
    try:
        with psycopg.connect(fresh_postgres_dsn) as holder:
            holder.execute("SELECT * FROM chain_head WHERE id = 1 FOR UPDATE")
            started = time.monotonic()
            with pytest.raises(LedgerError, match="busy"):
                store.append(draft("blocked"))
            assert time.monotonic() - started < 6
        store.append(draft("unblocked"))  # the lock is gone with the holder's transaction
        assert [r["uid"] for r in store.intents()] == ["unblocked"]
    finally:
        store.close()


def test_reading_a_database_without_a_ledger_is_an_error(fresh_postgres_dsn: str) -> None:
    with pytest.raises(LedgerError, match="holds no truthgate ledger"):
        open_store(fresh_postgres_dsn, create=False)
