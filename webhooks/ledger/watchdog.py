"""A client-side deadline for a blocking database call: shut its socket down when it overruns.

libpq has no read timeout. A PostgreSQL that is stopped (SIGSTOP), or a synchronous standby that
never confirms a commit, leaves the client waiting for an answer the kernel will never time out
(the server's kernel still acknowledges every packet, so TCP keepalives and
``tcp_user_timeout`` do not fire; ``statement_timeout`` runs on the server that is not running).
The only bound that holds is one kept by the client: past the deadline this watchdog shuts the
connection's socket down, the blocked call returns a connection error, and the store discards
the connection. One thread serves every guarded call of the process.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

log = logging.getLogger("truthgate.ledger")


class Fired:
    """Whether the deadline passed and the socket was shut down."""

    __slots__ = ("fired",)

    def __init__(self) -> None:
        self.fired = False


class Watchdog:
    def __init__(self, name: str = "ledger-watchdog") -> None:
        self._name = name
        self._pid: int | None = None

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, tuple[int, Fired]] = {}
        self._ids = itertools.count()
        thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        thread.start()

    @contextlib.contextmanager
    def guard(self, fd: int, seconds: float) -> Iterator[Fired]:
        """Within the block, the socket ``fd`` is shut down once ``seconds`` have passed."""
        if self._pid != os.getpid():
            self._reset()
        fired = Fired()
        key = next(self._ids)
        with self._cond:
            self._armed[key] = (fd, fired)
            heapq.heappush(self._heap, (time.monotonic() + seconds, key))
            self._cond.notify()
        try:
            yield fired
        finally:
            with self._cond:  # disarmed before the caller may close or reuse the socket
                self._armed.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                when, key = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                entry = self._armed.pop(key, None)
                if entry is not None:
                    fd, fired = entry
                    fired.fired = True
                    _shutdown(fd)


def _shutdown(fd: int) -> None:
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError as e:
        log.debug("watchdog: socket %d already gone: %s", fd, e)
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError as e:
        log.debug("watchdog: shutting down socket %d: %s", fd, e)
    finally:
        sock.close()
