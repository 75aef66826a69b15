"""Group commit: appends that arrive together share one transaction and one fsync.

Every append must be durable before the webhook answers, and an fsync costs from 0.3 ms on an
idle disk to several ms on a busy one. Appends are serialised by the hash chain anyway, so
under load each review used to wait for every earlier review's own commit. Here the threads of
one process queue their drafts; one of them (the *leader*) takes everything queued, writes it
in one transaction with one commit, and hands each waiter its own result. Whoever arrives while
a batch is being committed waits for the next batch, led by the first of them.

Guarantees, each tested in tests/ledger/test_group_commit.py:

* a caller returns only after the batch holding its draft has committed (durable), or raises;
* drafts are chained in the order they were queued;
* when a batch fails (lock timeout, disk error), every caller in it gets that error, so the
  webhook's failure mode applies to each review; nothing of the batch is committed;
* a draft that cannot be chained (not plain JSON) fails alone, the others still commit;
* nobody waits without bound: a follower gives up after ``wait_s`` (two batches' worth of the
  store's own lock timeout), leaving the queue if its draft was not taken yet.

Across processes (several gunicorn workers on one SQLite file) the batches of each process
take turns on the database's write lock; see ``SqliteStore`` for how that wait is kept short.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from webhooks.errors import LedgerError

I = TypeVar("I")  # noqa: E741 - an item queued for the batch
R = TypeVar("R")  # its result

MAX_BATCH = 256  # bounds one transaction's size (and a batch's time) under a flood


class _Waiter(Generic[I, R]):
    __slots__ = ("done", "error", "item", "lead", "result", "taken", "wake")

    def __init__(self, item: I) -> None:
        self.item = item
        self.wake = threading.Event()  # set when done, or when promoted to leader
        self.lead = False  # this waiter commits the next batch itself
        self.taken = False  # in a batch that is being committed
        self.done = False  # its batch finished: result or error is set
        self.result: R | None = None
        self.error: BaseException | None = None


BatchFn = Callable[[Sequence[I]], Sequence["R | Exception"]]


class GroupCommit(Generic[I, R]):
    """Leader/follower queue around ``commit``, which writes a batch in one transaction.

    ``commit(items)`` returns one entry per item, in order: its result, or the exception for
    that item alone (it was skipped; the rest committed). If ``commit`` raises, the whole
    batch failed and every caller in it gets that exception.
    """

    def __init__(self, commit: BatchFn[I, R], *, wait_s: float, max_batch: int = MAX_BATCH) -> None:
        self._commit = commit
        self._wait_s = wait_s
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter[I, R]] = []
        self._busy = False  # a leader is committing; invariant: not busy => queue empty
        self.batches = 0  # batches committed or failed so far (how well appends are grouped)

    def pending(self) -> int:
        """Drafts queued and not yet taken into a batch."""
        with self._lock:
            return len(self._queue)

    def submit(self, item: I) -> R:
        me: _Waiter[I, R] = _Waiter(item)
        with self._lock:
            self._queue.append(me)
            if not self._busy:
                self._busy = True
                me.lead = True
        if not me.lead:
            self._follow(me)
        if not me.done:  # leader from the start, or promoted while following
            self._lead()
        if me.error is not None:
            raise me.error
        return me.result  # type: ignore[return-value]  # set whenever error is None

    def _follow(self, me: _Waiter[I, R]) -> None:
        deadline = time.monotonic() + self._wait_s
        while not me.wake.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                if me.wake.is_set():
                    return  # answered or promoted just now
                if not me.taken:
                    self._queue.remove(me)  # never committed: "not recorded" is the truth
                    raise LedgerError(
                        f"ledger append timed out after {self._wait_s:g}s waiting for its turn"
                    )
            # Taken into a batch that is committing: that batch is bounded by the store's own
            # timeouts, so wait for its outcome rather than misreport a write that may land.
            deadline = time.monotonic() + self._wait_s

    def _lead(self) -> None:
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: len(batch)]
            for w in batch:
                w.taken = True
            self.batches += 1
        try:
            results = self._commit([w.item for w in batch])
            if len(results) != len(batch):
                raise LedgerError(
                    f"ledger batch returned {len(results)} results for {len(batch)} appends"
                )
            for w, r in zip(batch, results, strict=True):
                if isinstance(r, Exception):
                    w.error = r
                else:
                    w.result = r
        except Exception as e:  # every caller of the batch learns that it failed
            for w in batch:
                w.error = e
        except BaseException as e:  # interrupted: the others still get an answer
            for w in batch:
                w.error = LedgerError(f"ledger batch interrupted: {type(e).__name__}")
            raise
        finally:
            with self._lock:
                for w in batch:
                    w.done = True
                    w.wake.set()
                if self._queue:
                    nxt = self._queue[0]
                    nxt.lead = True
                    nxt.wake.set()
                else:
                    self._busy = False
