"""Informers: list+watch with the real kubernetes client's watch against the mock API server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.fakeapi import ApiServer
from tests.support.waiting import until
from webhooks.cluster.informer import Informer, Informers
from webhooks.cluster.reader import KubeClient
from webhooks.cluster.resources import POD, SECRET, ResourceType

Change = tuple[str | None, str | None]


def _pod(name: str, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop"}, "status": {"phase": phase}}


def _names(informer: Informer) -> list[str]:
    return sorted(o["metadata"]["name"] for o in informer.items())


@pytest.fixture
def changes() -> list[Change]:
    return []


@pytest.fixture
def informer(kube: KubeClient, changes: list[Change]) -> Iterator[Informer]:
    def seen(_: ResourceType, old: Any, new: Any) -> None:
        changes.append(
            (old and old["metadata"]["name"], new and new["status"]["phase"] if new else None)
        )

    inf = Informer(kube, POD, "shop", on_change=seen, watch_seconds=2, backoff_base=0.2)
    yield inf
    inf.stop()
    assert inf.join(5)


def test_lists_once_then_follows_changes_through_the_watch(
    api: ApiServer, informer: Informer, changes: list[Change]
) -> None:
    api.put(POD, _pod("web-1"))
    informer.start()
    until(lambda: informer.usable, what="synced")
    assert _names(informer) == ["web-1"] and changes == []  # the first listing is no change
    api.put(POD, _pod("web-1", "Failed"))
    api.put(POD, _pod("web-2", "Pending"))
    api.delete(POD, "shop", "web-2")
    until(lambda: len(changes) == 3, what="three changes")
    assert changes == [("web-1", "Failed"), (None, "Pending"), ("web-2", None)]
    assert _names(informer) == ["web-1"]
    assert informer.get("web-1")["status"]["phase"] == "Failed"  # type: ignore[index]
    assert informer.stats.lists == 1


def test_a_watch_that_ends_or_drops_resumes_from_its_version_without_listing_again(
    api: ApiServer, informer: Informer, changes: list[Change]
) -> None:
    informer.start()
    until(lambda: informer.usable)
    api.drop_watches()
    api.put(POD, _pod("web-1"))
    until(lambda: _names(informer) == ["web-1"], what="the change after the drop")
    until(lambda: informer.stats.watches >= 3, within=8, what="watches renewed on timeout")
    assert informer.stats.lists == 1 and informer.stats.failures == 0
    assert changes == [(None, "Running")]


def test_410_gone_lists_again_and_reports_what_changed_meanwhile(
    api: ApiServer, informer: Informer, changes: list[Change]
) -> None:
    api.put(POD, _pod("web-1"))
    api.put(POD, _pod("web-2"))
    informer.start()
    until(lambda: informer.usable)
    api.outage(503)  # no watch can follow what happens now
    until(lambda: not informer.usable, what="failing informer unusable")
    api.put(POD, _pod("web-1", "Failed"))
    api.delete(POD, "shop", "web-2")
    api.compact()  # and the server forgets it
    api.outage(None)
    until(lambda: informer.stats.expired == 1 and informer.usable, what="relisted")
    assert informer.stats.lists == 2
    assert _names(informer) == ["web-1"]
    assert sorted(changes, key=str) == sorted([("web-1", "Failed"), ("web-2", None)], key=str)


def test_an_outage_makes_it_unusable_and_it_recovers_by_itself(
    api: ApiServer, informer: Informer
) -> None:
    api.outage(503)
    informer.start()
    until(lambda: informer.stats.failures >= 2, what="failed lists")
    assert not informer.synced and not informer.usable
    api.put(POD, _pod("web-1"))
    api.outage(None)
    until(lambda: informer.usable, within=15, what="recovered")
    assert _names(informer) == ["web-1"]


def test_secrets_are_informed_as_metadata_only(api: ApiServer, kube: KubeClient) -> None:
    api.put(
        SECRET,
        {"metadata": {"name": "db", "namespace": "shop"}, "data": {"password": "aHVudGVyMg=="}},
    )
    informers = Informers(kube, frozenset({SECRET}), watch_seconds=2)
    try:
        informer = informers.ensure(SECRET, "shop")
        assert informer is not None
        until(lambda: informer.usable)
        api.put(
            SECRET,
            {"metadata": {"name": "api", "namespace": "shop"}, "data": {"token": "c2VjcmV0"}},
        )
        until(lambda: len(informer.items()) == 2)
        assert all("data" not in s for s in informer.items())
        assert "aHVudGVyMg" not in repr(informer.items()) and "c2VjcmV0" not in repr(
            informer.items()
        )
    finally:
        informers.stop()


def test_stopping_closes_every_watch(api: ApiServer, kube: KubeClient) -> None:
    informers = Informers(kube, frozenset({POD, SECRET}), watch_seconds=30)
    informers.prime([POD, SECRET], ["shop", "billing"])
    assert informers.ensure(POD, "shop") is informers.ensure(POD, "shop")  # one per pair
    assert informers.wait_synced(10)
    until(lambda: api.open_watches == 4, what="four open watches")
    informers.stop()
    assert informers.all() == []
    until(lambda: api.open_watches == 0, what="every watch closed")


def test_bookmarks_keep_a_quiet_informer_from_listing_again_after_compaction(
    api: ApiServer, informer: Informer
) -> None:
    api.emulator.bookmark_seconds = 0.2
    informer.start()
    until(lambda: informer.usable)
    for i in range(3):  # other namespaces move the server's version on
        api.put(POD, {"metadata": {"name": f"other-{i}", "namespace": "billing"}})
    newest = api.get(POD, "billing", "other-2")
    assert newest is not None
    until(
        lambda: informer.version == newest["metadata"]["resourceVersion"],
        what="a bookmark carried the informer to the newest version",
    )
    api.compact()
    api.drop_watches()
    until(lambda: informer.stats.watches >= 2)
    api.put(POD, _pod("web-1"))
    until(lambda: _names(informer) == ["web-1"])
    assert informer.stats.expired == 0 and informer.stats.lists == 1
