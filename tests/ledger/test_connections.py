"""Fork-safety of ledger connections: a child opens its own and never closes its parent's."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.connection import Connection

from webhooks.ledger.connections import PerProcess


class Conn:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.closed_by: int | None = None

    def close(self) -> None:
        self.closed_by = os.getpid()


def _in_child(holder: PerProcess[Conn], out: Connection) -> None:
    conn = holder.get()
    again = holder.get()
    holder.close()
    out.send((conn.pid, again is conn, conn.closed_by))


def test_a_child_opens_its_own_value_and_leaves_the_parents_open() -> None:
    holder = PerProcess(Conn, Conn.close)
    parents = holder.get()
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_in_child, args=(holder, send))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    opened_in, reused, closed_by = receive.recv()
    assert opened_in == child.pid  # not the parent's, inherited across the fork
    assert reused  # one per process, not one per call
    assert closed_by == child.pid  # the child closed its own
    assert holder.get() is parents  # the parent's is still its own, and open
    assert parents.closed_by is None
    holder.close()
    assert parents.closed_by == os.getpid()
