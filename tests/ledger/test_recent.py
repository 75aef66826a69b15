"""Newest-first pages of one application's records, as the read API asks for them."""

from __future__ import annotations

import pytest

from tests.ledger.ledger_support import draft
from webhooks.errors import BadRequestError
from webhooks.ledger.store import IntentStore


def test_recent_intents_are_one_apps_newest_first_paged_by_key(store: IntentStore) -> None:
    for i in range(5):
        store.append(draft(f"s{i}", at=f"2026-11-27T10:0{i}:00Z"))
        store.append(draft(f"b{i}", app="billing", at=f"2026-11-27T10:0{i}:00Z"))
    first = store.recent("intents", app="shop-web", before=None, limit=2)
    assert [r["uid"] for _, r in first] == ["s4", "s3"]
    rest = store.recent("intents", app="shop-web", before=first[-1][0], limit=10)
    assert [r["uid"] for _, r in rest] == ["s2", "s1", "s0"]
    assert store.recent("intents", app="nobody", before=None, limit=10) == []


def test_recent_verifications_and_one_by_key(store: IntentStore) -> None:
    for verdict in ("Healthy", "Degraded"):
        store.append_verification({"app": "shop-web", "verdict": verdict})
    store.append_verification({"app": "billing", "verdict": "Healthy"})
    rows = store.recent("verifications", app="shop-web", before=None, limit=5)
    assert [r["verdict"] for _, r in rows] == ["Degraded", "Healthy"]
    key = rows[0][0]
    assert store.verification(key) == rows[0][1]
    assert store.verification(10**9) is None
    with pytest.raises(BadRequestError):
        store.recent("verifications", app="shop-web", before=None, limit=0)
