"""One database connection per thread and per process, shared by both ledger backends.

gunicorn runs the webhook in several worker processes (forked from a master that may have
opened the store already) with several threads each. A connection must never be used by two
threads at once nor cross a fork: a child that used, or even closed, its parent's connection
could corrupt the parent's session (PostgreSQL) or its locks and WAL (SQLite). So each thread of
each process opens its own, and ``close_all`` closes only the calling process's connections.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from webhooks.errors import LedgerError

C = TypeVar("C")


class PerThread(Generic[C]):
    def __init__(self, open_: Callable[[], C], close: Callable[[C], None]) -> None:
        self._open = open_
        self._close = close
        self._local = threading.local()
        self._all: list[tuple[int, C]] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> C:
        if self._closed:
            raise LedgerError("ledger store is closed")
        pid = os.getpid()
        mine: tuple[int, C] | None = getattr(self._local, "conn", None)
        if mine is not None and mine[0] == pid:
            return mine[1]
        conn = self._open()
        self._local.conn = (pid, conn)
        with self._lock:
            self._all.append((pid, conn))
        return conn

    def discard(self, conn: C) -> None:
        """Forget (and close) this thread's connection, e.g. after the server dropped it."""
        self._local.conn = None
        with self._lock:
            self._all = [(p, c) for p, c in self._all if c is not conn]
        self._close(conn)

    def close_all(self) -> None:
        self._closed = True
        pid = os.getpid()
        with self._lock:
            conns, self._all = self._all, []
        for owner, conn in conns:
            if owner == pid:  # a parent's connections are the parent's to close
                self._close(conn)
