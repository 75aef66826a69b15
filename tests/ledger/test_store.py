"""What the webhook, the verifier and an auditor rely on, on both backends."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.ledger.ledger_support import chain_lock_held, draft, raw_sql
from webhooks.errors import BadRequestError, LedgerError
from webhooks.ledger import IntentStore, open_store
from webhooks.ledger.intent import GENESIS, record_hash


def _day(n: int) -> str:
    return (
        (datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=n)).isoformat().replace("+00:00", "Z")
    )


def _fill(store: IntentStore, n: int) -> list[str]:
    uids = [f"u{i}" for i in range(n)]
    for i, uid in enumerate(uids):
        store.append(draft(uid, at=_day(i), image=f"web:1.0.{i}"))
    return uids


def test_appended_records_come_back_in_order_chained_from_genesis(store: IntentStore) -> None:
    first = store.append(draft("a", image="web:1.0.0"))
    second = store.append(draft("b", image="web:1.0.1"))

    assert first["prevHash"] == GENESIS
    assert second["prevHash"] == first["hash"]
    assert record_hash(second) == second["hash"]
    back = list(store.intents())
    assert back == [first, second]
    assert back[1]["patch"][0]["value"] == "web:1.0.1"


def test_filters_by_app_namespace_and_time(store: IntentStore) -> None:
    store.append(draft("a", app="shop-web", namespace="shop", at=_day(1)))
    store.append(draft("b", app="billing", namespace="billing", at=_day(2)))
    store.append(draft("c", app="shop-web", namespace="shop", at=_day(3)))
    store.append(draft("d", app=None, namespace=None, at=_day(4)))

    def uids(**kw: object) -> list[str]:
        return [r["uid"] for r in store.intents(**kw)]  # type: ignore[arg-type]

    assert uids(app="shop-web") == ["a", "c"]
    assert uids(namespace="billing") == ["b"]
    since = datetime.fromisoformat(_day(2))
    assert uids(since=since) == ["b", "c", "d"]
    assert uids(until=since) == ["a", "b"]
    assert uids(app="shop-web", since=since, until=datetime.fromisoformat(_day(3))) == ["c"]
    assert uids(app="nothing-here") == []


def test_resending_the_same_uid_returns_the_first_record_and_adds_nothing(
    store: IntentStore,
) -> None:
    first = store.append(draft("retry", image="web:1.0.0"))
    again = store.append(draft("retry", image="web:9.9.9"))

    assert again == first
    assert [r["uid"] for r in store.intents()] == ["retry"]
    assert store.verify().records == 1


def test_a_resend_racing_the_original_returns_the_same_record(ledger_url: str) -> None:
    # Two replicas get the same admission uid at once (the API server retried elsewhere).
    stores = [open_store(ledger_url), open_store(ledger_url)]
    results: list[object] = [None, None]

    def send(i: int) -> None:
        try:
            results[i] = stores[i].append(draft("same-uid"))
        except Exception as e:  # shown by the assertion below
            results[i] = e

    try:
        with chain_lock_held(ledger_url):  # both wait on the chain lock together
            threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
            for t in threads:
                t.start()
            time.sleep(0.3)
        for t in threads:
            t.join(timeout=30)
        assert isinstance(results[0], dict), results
        assert results[0] == results[1]
        assert [r["uid"] for r in stores[0].intents()] == ["same-uid"]
    finally:
        for s in stores:
            s.close()


def test_untouched_chain_verifies(store: IntentStore) -> None:
    _fill(store, 7)
    report = store.verify()
    assert report.ok, report
    assert report.records == 7
    assert report.head == list(store.intents())[-1]["hash"]


def test_empty_ledger_verifies(store: IntentStore) -> None:
    report = store.verify()
    assert report.ok and report.records == 0


def test_editing_a_patch_in_sql_is_reported_at_that_record(
    store: IntentStore, ledger_url: str
) -> None:
    _fill(store, 5)
    raw_sql(
        ledger_url,
        "UPDATE intents SET doc = replace(doc, 'web:1.0.2', 'web:6.6.6') WHERE uid = 'u2'",
    )

    report = store.verify()
    assert not report.ok
    assert report.first_bad == "u2"
    assert report.reason is not None and report.reason.startswith("edited")
    assert report.records == 2  # u0, u1 verified before it


def test_rewriting_a_record_with_a_fresh_hash_is_caught_at_the_next_one(
    store: IntentStore, ledger_url: str
) -> None:
    records = [store.append(draft(f"u{i}", image=f"web:1.0.{i}")) for i in range(4)]
    forged = dict(records[1])
    forged["patch"] = [{"op": "replace", "path": "/x", "value": "forged"}]
    forged["hash"] = record_hash(forged)
    doc = json.dumps(forged, sort_keys=True, separators=(",", ":")).replace("'", "''")
    sql = f"UPDATE intents SET doc = '{doc}', hash = '{forged['hash']}' WHERE uid = 'u1'"  # noqa: S608
    raw_sql(ledger_url, sql)

    report = store.verify()
    assert not report.ok
    assert report.first_bad == "u2"
    assert report.reason is not None and "rewritten" in report.reason


def test_deleting_a_record_is_reported_at_the_record_after_it(
    store: IntentStore, ledger_url: str
) -> None:
    _fill(store, 5)
    raw_sql(ledger_url, "DELETE FROM intents WHERE uid = 'u2'")

    report = store.verify()
    assert not report.ok
    assert report.first_bad == "u3"
    assert report.reason is not None and report.reason.startswith("removed")


def test_swapping_two_records_is_reported_as_reordered(store: IntentStore, ledger_url: str) -> None:
    _fill(store, 5)
    raw_sql(
        ledger_url,
        "UPDATE intents SET seq = -1 WHERE seq = 3",
        "UPDATE intents SET seq = 3 WHERE seq = 4",
        "UPDATE intents SET seq = 4 WHERE seq = -1",
    )

    report = store.verify()
    assert not report.ok
    assert report.first_bad == "u3"  # now in u2's place, chained after u2 which comes later
    assert report.reason is not None and report.reason.startswith("reordered")
    assert "u2" in report.reason


def test_removing_the_newest_record_is_detected(store: IntentStore, ledger_url: str) -> None:
    _fill(store, 4)
    raw_sql(ledger_url, "DELETE FROM intents WHERE uid = 'u3'")

    report = store.verify()
    assert not report.ok
    assert report.first_bad == "u3"
    assert report.reason is not None and report.reason.startswith("removed: 1 record")


def test_moving_a_record_to_another_app_column_is_detected(
    store: IntentStore, ledger_url: str
) -> None:
    _fill(store, 3)
    raw_sql(ledger_url, "UPDATE intents SET app = 'elsewhere' WHERE uid = 'u1'")

    report = store.verify()
    assert (report.ok, report.first_bad) == (False, "u1")


def test_prune_keeps_the_chain_verifiable_and_appends_continue(store: IntentStore) -> None:
    _fill(store, 10)
    dropped = store.prune(datetime.fromisoformat(_day(6)))

    assert dropped == 6
    assert [r["uid"] for r in store.intents()] == ["u6", "u7", "u8", "u9"]
    report = store.verify()
    assert report.ok, report
    assert (report.records, report.pruned) == (4, 6)

    store.append(draft("after", at=_day(20)))
    assert store.verify().ok
    assert store.prune(datetime.fromisoformat(_day(30))) == 5  # everything
    report = store.verify()
    assert report.ok and report.records == 0 and report.pruned == 11
    store.append(draft("fresh", at=_day(31)))
    assert store.verify().ok


def test_prune_drops_only_a_prefix_even_when_clocks_disagree(store: IntentStore) -> None:
    # A replica with a slow clock wrote u2 with an older time than u1.
    store.append(draft("u0", at=_day(0)))
    store.append(draft("u1", at=_day(5)))
    store.append(draft("u2", at=_day(1)))
    store.append(draft("u3", at=_day(6)))

    assert store.prune(datetime.fromisoformat(_day(3))) == 1
    assert [r["uid"] for r in store.intents()] == ["u1", "u2", "u3"]
    assert store.verify().ok


def test_opening_with_retention_days_prunes_old_records(ledger_url: str) -> None:
    now = datetime.now(UTC)
    first = open_store(ledger_url)
    first.append(draft("old", at=(now - timedelta(days=40)).isoformat()))
    first.append(draft("new", at=(now - timedelta(days=1)).isoformat()))
    first.append_verification(
        {"app": "shop-web", "verdict": "Healthy", "time": (now - timedelta(days=40)).isoformat()}
    )
    first.close()

    kept = open_store(ledger_url, retention_days=30)
    try:
        assert [r["uid"] for r in kept.intents()] == ["new"]
        assert list(kept.verifications()) == []
        assert kept.verify().ok
    finally:
        kept.close()


def test_verification_records_are_kept_per_app_in_order(store: IntentStore) -> None:
    store.append_verification(
        {
            "app": "shop-web",
            "revision": "abc",
            "verdict": "Healthy",
            "summary": "all good",
            "findings": 0,
            "time": "2026-11-27T10:05:00Z",
        }
    )
    store.append_verification(
        {
            "app": "billing",
            "revision": "def",
            "verdict": "Degraded",
            "summary": "3 of 5 pods Pending",
            "findings": 2,
        }
    )
    store.append_verification(
        {
            "app": "shop-web",
            "revision": "abd",
            "verdict": "Degraded",
            "summary": "error rate up 4x",
            "findings": 1,
        }
    )

    shop = list(store.verifications(app="shop-web"))
    assert [(v["revision"], v["verdict"]) for v in shop] == [
        ("abc", "Healthy"),
        ("abd", "Degraded"),
    ]
    assert shop[0]["time"] == "2026-11-27T10:05:00Z"
    assert "time" in shop[1]  # stamped when missing
    assert len(list(store.verifications())) == 3


def test_bad_drafts_are_refused_and_write_nothing(store: IntentStore) -> None:
    no_time = draft("x")
    del no_time["time"]
    with pytest.raises(BadRequestError, match="time"):
        store.append(no_time)
    with pytest.raises(BadRequestError, match="RFC 3339"):
        store.append(draft("y", at="yesterday"))
    with pytest.raises(BadRequestError, match="uid"):
        store.append(draft(""))
    with pytest.raises(BadRequestError, match="app"):
        store.append_verification({"verdict": "Healthy"})
    assert list(store.intents()) == []
    assert store.verify().ok


def test_threads_sharing_one_store_append_a_single_chain(store: IntentStore) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(15):
                store.append(draft(f"t{t}-{i}"))
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    report = store.verify()
    assert report.ok and report.records == 60


def test_ping_answers_while_the_store_is_open_and_fails_after_close(ledger_url: str) -> None:
    opened = open_store(ledger_url)
    opened.ping()
    opened.close()
    with pytest.raises(LedgerError):
        opened.ping()
