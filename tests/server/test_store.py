"""The ledger handle the workers share: opened lazily, retried after a cool-down, thread-safe."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.server.reviews import deployment_update
from webhooks.errors import LedgerError
from webhooks.ledger import open_store
from webhooks.ledger.store import IntentStore
from webhooks.server.store import PerProcessStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_ledger_is_opened_on_first_use_not_before(tmp_path: Path) -> None:
    opened: list[str] = []

    def opener() -> IntentStore:
        opened.append("x")
        return open_store(str(tmp_path / "l.db"))

    store = PerProcessStore(opener)
    assert opened == []
    store.ping()
    store.ping()
    assert opened == ["x"]
    store.close()


def test_a_failed_open_is_retried_only_after_the_cool_down(tmp_path: Path) -> None:
    attempts: list[int] = []
    clock = Clock()

    def opener() -> IntentStore:
        attempts.append(1)
        if len(attempts) < 3:
            raise LedgerError("cannot reach ledger postgresql://x:***@db/x: connection refused")
        return open_store(str(tmp_path / "l.db"))

    store = PerProcessStore(opener, clock=clock, retry_after=1.0)
    for _ in range(5):  # one real attempt, then the remembered failure
        with pytest.raises(LedgerError, match="connection refused"):
            store.ping()
    assert len(attempts) == 1
    clock.now += 1.5
    with pytest.raises(LedgerError):
        store.ping()
    assert len(attempts) == 2
    clock.now += 1.5
    store.ping()  # the ledger is back
    assert len(attempts) == 3
    store.close()


def test_a_driver_error_the_backend_did_not_wrap_becomes_a_ledger_error() -> None:
    def opener() -> IntentStore:
        raise OSError("disk I/O error")

    with pytest.raises(LedgerError, match="disk I/O error"):
        PerProcessStore(opener).ping()


def test_concurrent_appends_from_threads_all_land_on_one_chain(tmp_path: Path) -> None:
    store = PerProcessStore(lambda: open_store(str(tmp_path / "l.db")))
    uids = [deployment_update()["request"]["uid"] for _ in range(40)]
    draft = {
        "time": "2026-11-27T10:00:00.000Z",
        "app": "shop-web",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "namespace": "shop",
        "name": "web",
        "operation": "UPDATE",
        "actor": {"username": "argocd", "groups": [], "class": "argocd"},
        "patch": [],
        "decision": {"allowed": True, "denials": [], "warnings": []},
        "dryRun": False,
    }
    threads = [threading.Thread(target=store.append, args=({**draft, "uid": u},)) for u in uids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r["uid"] for r in store.intents()) == sorted(uids)
    assert store.verify().ok
    store.close()
