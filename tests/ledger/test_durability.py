"""Several webhook processes share one ledger, and a killed process loses nothing it acked."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ledger.ledger_support import append_many, draft
from webhooks.ledger import IntentStore, open_store

REPO = Path(__file__).resolve().parents[2]

_KILLED_WRITER = """
import sys
from tests.ledger.ledger_support import draft
from webhooks.ledger import open_store

store = open_store(sys.argv[1])
i = 0
while True:
    uid = f"k{i}"
    store.append(draft(uid, image=f"web:{i}"))
    print(f"acked {uid}", flush=True)
    i += 1
"""


def test_concurrent_processes_append_one_unforked_chain(ledger_url: str) -> None:
    open_store(ledger_url).close()  # create the schema once, as the first worker would
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=append_many, args=(ledger_url, f"p{n}", 50)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=90)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]

    store = open_store(ledger_url, create=False)
    try:
        records = list(store.intents())
        report = store.verify()
    finally:
        store.close()
    assert report.ok, report
    assert report.records == 200
    assert {r["uid"] for r in records} == {f"p{n}-{i}" for n in range(4) for i in range(50)}
    # A fork would show as two records chained after the same predecessor.
    assert len({r["prevHash"] for r in records}) == 200


def test_a_record_acked_before_sigkill_is_there_after_reopening(ledger_url: str) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, ledger_url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: list[str] = []
    try:
        assert writer.stdout is not None
        while len(acked) < 30:
            line = writer.stdout.readline()
            assert line, writer.stderr.read() if writer.stderr else "writer exited"
            acked.append(line.split()[1])
        os.kill(writer.pid, signal.SIGKILL)  # mid-append, most likely
    finally:
        writer.kill()
        writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    store = open_store(ledger_url, create=False)
    try:
        stored = [r["uid"] for r in store.intents()]
        report = store.verify()
    finally:
        store.close()
    assert stored[: len(acked)] == acked
    assert report.ok, report


def _append_in_child_then_close(store: IntentStore) -> None:
    store.append(draft("child"))
    store.close()


def test_a_store_opened_before_a_fork_keeps_working_in_parent_and_child(
    ledger_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # gunicorn --preload: the master opens the store, then forks workers.
    caplog.set_level(logging.WARNING, logger="truthgate.ledger")
    store = open_store(ledger_url)
    try:
        store.append(draft("parent-before"))
        child = multiprocessing.get_context("fork").Process(
            target=_append_in_child_then_close, args=(store,)
        )
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        store.append(draft("parent-after"))  # the child's close() left our connection alone
        assert [r["uid"] for r in store.intents()] == ["parent-before", "child", "parent-after"]
        assert store.verify().ok
        # Nor did it have to reconnect: the child never touched the parent's session.
        assert [r.getMessage() for r in caplog.records] == []
    finally:
        store.close()
