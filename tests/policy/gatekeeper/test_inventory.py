"""Referential constraints: data.inventory from the kinds a Gatekeeper Config names."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml

from tests.policy.gatekeeper.conftest import HERE, request
from webhooks.cluster.reader import plural
from webhooks.errors import ClusterError
from webhooks.policy.gatekeeper.engine import GatekeeperEngine
from webhooks.policy.gatekeeper.inventory import InventoryCache, SyncKind, refresh
from webhooks.server.inventory_sync import start_inventory_sync

REFERENTIAL = HERE / "referential"
INGRESS = SyncKind("networking.k8s.io", "v1", "Ingress")


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REFERENTIAL / name).read_text())
    return doc


def test_the_config_names_the_kinds_to_sync() -> None:
    cache = InventoryCache()
    GatekeeperEngine(REFERENTIAL, inventory=cache)
    assert cache.kinds() == (INGRESS,)


def test_a_referential_constraint_sees_the_refreshed_inventory() -> None:
    cache = InventoryCache()
    engine = GatekeeperEngine(REFERENTIAL, inventory=cache)
    review = {"request": request(load("other-ingress.yaml"))}
    assert engine.evaluate("Ingress", review)[0].denials == ()  # nothing synced yet

    listed: list[SyncKind] = []

    def lister(kind: SyncKind) -> Sequence[Mapping[str, Any]]:
        listed.append(kind)
        return [load("shop-ingress.yaml")]

    assert refresh(cache, lister) == []
    assert listed == [INGRESS]
    (outcome,) = engine.evaluate("Ingress", review)
    assert outcome.denials == (
        "[unique-ingress-host] ingress host conflicts with ingress shop/web: shop.example.com",
    )
    # The object under review is not a conflict with itself.
    assert (
        engine.evaluate("Ingress", {"request": request(load("shop-ingress.yaml"))})[0].denials == ()
    )


def test_a_kind_that_cannot_be_listed_is_left_out_not_kept_stale() -> None:
    cache = InventoryCache()
    engine = GatekeeperEngine(REFERENTIAL, inventory=cache)
    refresh(cache, lambda kind: [load("shop-ingress.yaml")])

    def failing(kind: SyncKind) -> Sequence[Mapping[str, Any]]:
        raise ClusterError("ingresses.networking.k8s.io is forbidden")

    assert refresh(cache, failing) == [
        "networking.k8s.io/v1 Ingress: ingresses.networking.k8s.io is forbidden"
    ]
    review = {"request": request(load("other-ingress.yaml"))}
    assert engine.evaluate("Ingress", review)[0].denials == ()


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        ("Ingress", "ingresses"),
        ("Service", "services"),
        ("StorageClass", "storageclasses"),
        ("NetworkPolicy", "networkpolicies"),
        ("Gateway", "gateways"),
        ("PodDisruptionBudget", "poddisruptionbudgets"),
    ],
)
def test_kinds_are_listed_by_their_plural_resource_name(kind: str, resource: str) -> None:
    assert plural(kind) == resource


def test_one_refresher_per_process_lists_until_stopped() -> None:
    cache = InventoryCache()
    cache.want([INGRESS])
    rounds = threading.Semaphore(0)

    def lister(kind: SyncKind) -> Sequence[Mapping[str, Any]]:
        return [load("shop-ingress.yaml")]

    def wait(interval: float) -> bool:
        rounds.release()
        return True  # stop after the first round

    assert start_inventory_sync(cache, lister, interval=60, wait=wait)
    assert rounds.acquire(timeout=10)
    assert cache.snapshot()[0] == 1
    assert "shop" in cache.snapshot()[1]["namespace"]
    assert not start_inventory_sync(cache, lister)  # already running in this process
