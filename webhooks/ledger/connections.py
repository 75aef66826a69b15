"""Ledger connections that never cross a fork: the one home of truthgate's fork-safety.

gunicorn runs the webhook in several worker processes (forked from a master that may have
opened the store already) with several threads each. A connection must never be used by two
threads at once nor cross a fork: a child that used, or even closed, its parent's connection
could corrupt the parent's session (PostgreSQL) or its locks and WAL (SQLite).

``PerProcess`` holds one value per process: it is opened on first use in each process, a
parent's value is dropped in the child (not closed), and ``close`` closes only the calling
process's. ``PerThread`` builds on it: each thread of each process opens its own connection,
and ``close_all`` closes only the calling process's connections.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from webhooks.errors import LedgerError

C = TypeVar("C")


class PerProcess(Generic[C]):
    """One value per process, opened on first use in each process (so again after a fork)."""

    def __init__(self, open_: Callable[[], C], close: Callable[[C], None]) -> None:
        self._open = open_
        self._close = close
        self._lock = threading.Lock()
        self._mine: tuple[int, C] | None = None

    def get(self) -> C:
        pid = os.getpid()
        mine = self._mine
        if mine is not None and mine[0] == pid:
            return mine[1]
        with self._lock:
            mine = self._mine
            if mine is None or mine[0] != pid:
                # Forked (or not opened yet): a parent's value is dropped, not closed.
                mine = self._mine = (pid, self._open())
            return mine[1]

    def close(self) -> None:
        """Close this process's value, if it opened one; a parent's is the parent's to close."""
        with self._lock:
            mine, self._mine = self._mine, None
        if mine is not None and mine[0] == os.getpid():
            self._close(mine[1])


class _Threads(Generic[C]):
    """One process's per-thread connections."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.all: list[C] = []
        self.lock = threading.Lock()


class PerThread(Generic[C]):
    def __init__(self, open_: Callable[[], C], close: Callable[[C], None]) -> None:
        self._open = open_
        self._close = close
        self._procs: PerProcess[_Threads[C]] = PerProcess(_Threads, self._close_threads)
        self._closed = False

    def get(self) -> C:
        if self._closed:
            raise LedgerError("ledger store is closed")
        threads = self._procs.get()
        mine: C | None = getattr(threads.local, "conn", None)
        if mine is not None:
            return mine
        conn = self._open()
        threads.local.conn = conn
        with threads.lock:
            threads.all.append(conn)
        return conn

    def discard(self, conn: C) -> None:
        """Forget (and close) this thread's connection, e.g. after the server dropped it."""
        threads = self._procs.get()
        threads.local.conn = None
        with threads.lock:
            threads.all = [c for c in threads.all if c is not conn]
        self._close(conn)

    def close_all(self) -> None:
        self._closed = True
        self._procs.close()

    def _close_threads(self, threads: _Threads[C]) -> None:
        with threads.lock:
            conns, threads.all = threads.all, []
        for conn in conns:
            self._close(conn)
