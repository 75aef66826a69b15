"""Group commit under a deadline: appends that arrive together share one transaction and fsync.

Every append must be durable before the webhook answers, and an fsync costs from 0.3 ms on an
idle disk to several ms on a busy one. Appends are serialised by the hash chain anyway, so the
threads of one process queue their drafts and one *committer* thread per process takes
everything queued, writes it in one transaction with one commit, and hands each caller its own
result. Whoever arrives while a batch is being committed goes in the next batch.

The committer is a thread of its own, not one of the callers, so that no caller ever waits on
I/O itself: a caller waits at most ``deadline_s`` for its batch, whatever the database does (a
hung PostgreSQL, a synchronous standby that never answers, a disk that stopped), then gets
:class:`LedgerTimeoutError` and the webhook applies its failure mode, well inside the API server's
webhook timeout. While the committer has been stuck on one batch for longer than the deadline,
or for one deadline after a batch timed out, new appends fail at once instead of queueing: a
worker has only a few threads, and a hung database must not hold each of them for a deadline.

Guarantees, each tested in tests/ledger/test_group_commit.py:

* a caller returns its record only after the batch holding it has committed (durable);
* drafts are chained in the order they were queued;
* when a batch fails (lock timeout, disk error), every caller in it gets that error, so the
  webhook's failure mode applies to each review; nothing of the batch is committed;
* a draft that cannot be chained (not plain JSON) fails alone, the others still commit;
* after a batch timed out, appends fail at once for one deadline (then one tries again);
* nobody waits longer than ``deadline_s``. A draft whose caller gave up before the committer
  took it is never written; one already taken may still land (its caller was told the outcome
  is unknown — the API server may resend, and a resent uid is never recorded twice).

Across processes (several gunicorn workers on one SQLite file) the batches of each process
take turns on the database's write lock; see ``SqliteStore`` for how that wait is kept short.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from webhooks.errors import LedgerError, LedgerTimeoutError, short

I = TypeVar("I")  # noqa: E741 - an item queued for the batch
R = TypeVar("R")  # its result

MAX_BATCH = 256  # bounds one transaction's size (and a batch's time) under a flood
MAX_QUEUE = 4096  # drafts waiting beyond this fail at once: memory stays bounded under a flood


class _Waiter(Generic[I, R]):
    __slots__ = ("done", "error", "expires", "item", "result", "taken", "wake")

    def __init__(self, item: I, expires: float) -> None:
        self.item = item
        self.expires = expires  # time.monotonic() when its caller stops waiting
        # Held until its batch finished: a bare lock is the cheapest one-shot signal between
        # two threads (an Event is a Condition, a lock and a list, built anew each wait).
        self.wake = threading.Lock()
        self.wake.acquire()
        self.taken = False  # in a batch that is being committed
        self.done = False  # its batch finished: result or error is set
        self.result: R | None = None
        self.error: BaseException | None = None


@dataclass(frozen=True)
class WriteHealth:
    """What the committer last saw, for readiness: is writing working right now?"""

    stuck_s: float  # how long the batch being committed has taken so far (0 when idle)
    failed_s: float | None  # seconds since the last failed batch, unless a batch succeeded since
    failure: str | None  # its error


BatchFn = Callable[[Sequence[I]], Sequence["R | Exception"]]


class GroupCommit(Generic[I, R]):
    """A queue in front of ``commit``, which writes a batch in one transaction.

    ``commit(items)`` returns one entry per item, in order: its result, or the exception for
    that item alone (it was skipped; the rest committed). If ``commit`` raises, the whole
    batch failed and every caller in it gets that exception.
    """

    def __init__(
        self,
        commit: BatchFn[I, R],
        *,
        deadline_s: float,
        max_batch: int = MAX_BATCH,
        max_queue: int = MAX_QUEUE,
        name: str = "ledger-commit",
    ) -> None:
        if deadline_s <= 0:
            raise ValueError("deadline_s must be positive")
        self._commit = commit
        self.deadline_s = deadline_s
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._name = name
        self.batches = 0  # batches committed or failed so far (how well appends are grouped)
        self._reset()

    def _reset(self) -> None:
        # Also after a fork: the child has none of the parent's threads, and the parent's lock
        # may have been held at the fork.
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Waiter[I, R]] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy_since: float | None = None
        self._batch_expires = 0.0
        # After a batch timed out, appends fail at once for one deadline: a hung database then
        # costs one review per deadline its wait, instead of every thread of the worker.
        self._cooling_until = 0.0
        self._failed_at: float | None = None
        self._failure: str | None = None

    def pending(self) -> int:
        """Drafts queued and not yet taken into a batch."""
        with self._cond:
            return len(self._queue)

    def time_left(self) -> float:
        """For ``commit``: seconds until the first caller of the current batch stops waiting.

        A batch should give up (lock wait, statement) by then, so its callers learn the real
        outcome instead of "may still be written".
        """
        return max(0.0, self._batch_expires - time.monotonic())

    def health(self) -> WriteHealth:
        now = time.monotonic()
        with self._cond:
            stuck = 0.0 if self._busy_since is None else now - self._busy_since
            failed = None if self._failed_at is None else now - self._failed_at
            return WriteHealth(stuck, failed, self._failure)

    def submit(self, item: I, deadline_s: float | None = None) -> R:
        """Queue ``item`` and wait for its batch: at most ``deadline_s`` (default: the group's)."""
        wait_s = self.deadline_s if deadline_s is None else min(deadline_s, self.deadline_s)
        if self._pid != os.getpid():
            self._reset()
        me: _Waiter[I, R] = _Waiter(item, time.monotonic() + wait_s)
        with self._cond:
            if self._closed:
                raise LedgerError("ledger store is closed")
            if self._busy_since is not None:
                stuck = time.monotonic() - self._busy_since
                if stuck > self.deadline_s:
                    raise LedgerTimeoutError(
                        f"ledger write stuck for {stuck:.1f}s (deadline {self.deadline_s:g}s); "
                        "not written"
                    )
            if time.monotonic() < self._cooling_until:
                raise LedgerTimeoutError(
                    "ledger writes timed out just now; not written (the next try goes to the "
                    f"database within {self.deadline_s:g}s)"
                )
            if len(self._queue) >= self._max_queue:
                raise LedgerTimeoutError(
                    f"ledger write queue full ({self._max_queue}); not written"
                )
            self._queue.append(me)
            self._start_locked()
            self._cond.notify()
        if not me.wake.acquire(timeout=max(0.0, wait_s)):
            with self._cond:
                if not me.done:
                    if not me.taken:
                        self._queue.remove(me)  # never committed: "not recorded" is the truth
                        raise LedgerTimeoutError(
                            f"ledger write timed out after {wait_s:g}s waiting for its turn; "
                            "not written"
                        )
                    raise LedgerTimeoutError(
                        f"ledger write did not finish within {wait_s:g}s; it may still be written"
                    )
        if me.error is not None:
            raise me.error
        return me.result  # type: ignore[return-value]  # set whenever error is None

    def close(self, wait_s: float = 1.0) -> None:
        """Stop the committer once the queue is empty (waits at most ``wait_s``)."""
        with self._cond:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait_s)

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: len(batch)]
                for w in batch:
                    w.taken = True
                self.batches += 1
                self._busy_since = time.monotonic()
                self._batch_expires = min(w.expires for w in batch)
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Waiter[I, R]]) -> None:
        failure: str | None = None
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
            failure = short(e, 200)
            if isinstance(e, LedgerTimeoutError):
                with self._cond:
                    self._cooling_until = time.monotonic() + self.deadline_s
            for w in batch:
                w.error = e
        except BaseException as e:  # interrupted: the others still get an answer
            failure = type(e).__name__
            for w in batch:
                w.error = LedgerError(f"ledger batch interrupted: {failure}")
            raise
        finally:
            with self._cond:
                self._busy_since = None
                if failure is None:
                    self._failed_at = self._failure = None
                else:
                    self._failed_at, self._failure = time.monotonic(), failure
                for w in batch:
                    w.done = True
                    w.wake.release()
