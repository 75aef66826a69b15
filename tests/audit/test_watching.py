"""The auditor with informers and cluster triggers: the real kubernetes client's watch
against the mock API server (extended to serve watches, bookmarks and 410 Gone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.audit.test_auditor import START, StepClock, Web, _world
from tests.cluster.fakeapi import ApiServer
from tests.postsync.world import pod
from tests.support.waiting import until
from webhooks.audit.auditor import Auditor
from webhooks.audit.lease import LeaseElector
from webhooks.audit.triggers import Triggers
from webhooks.cli.verify import _judge_with
from webhooks.cluster.informer import Informers
from webhooks.cluster.reader import KubeClient
from webhooks.cluster.resources import APP_OBJECT_TYPES, POD, REPLICASET

__all__ = ["START"]


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def watching(kube: KubeClient, clock: StepClock) -> Iterator[tuple[Informers, Triggers]]:
    triggers = Triggers(clock)
    informers = Informers(kube, frozenset(APP_OBJECT_TYPES), watch_seconds=5)
    informers.on_change = triggers.observer(informers.find)
    yield informers, triggers
    informers.stop()


def _auditor(
    kube: KubeClient, clock: StepClock, watching: tuple[Informers, Triggers], **kw: Any
) -> Auditor:
    informers, triggers = watching
    return Auditor(
        kube,
        kube,
        _judge_with(None),
        clock,
        ("shop",),
        informers=informers,
        triggers=triggers,
        **kw,
    )


def _audited_once(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, watching: Any
) -> Auditor:
    """The world, and an auditor whose first pass published and started synced informers."""
    _world(api, web)
    auditor = _auditor(kube, clock, watching)
    assert [r.outcome for r in auditor.tick()] == ["published"]
    assert watching[0].wait_synced(10)
    return auditor


def _owner(api: ApiServer) -> str:
    rs = api.get(REPLICASET, "shop", "web-7d9f")
    assert rs is not None
    return str(rs["metadata"]["uid"])


def test_a_pod_turning_not_ready_brings_the_audit_forward_and_reads_come_from_the_watches(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, watching: Any
) -> None:
    informers, triggers = watching
    _world(api, web)
    auditor = _auditor(kube, clock, watching)
    [first] = auditor.tick()  # lists through the API once, and starts the informers
    assert first.outcome == "published" and first.verdict == "Healthy"
    assert informers.wait_synced(10)
    lists = dict(api.emulator.lists)
    clock.advance(minutes=2)
    assert auditor.tick() == []  # nothing changed: it waits for its 5m interval
    api.put(POD, pod("web-7d9f-2", ready=False, restarts=3, owner_uid=_owner(api)))
    until(lambda: len(triggers) == 1, what="the pod's change reached its application")
    clock.advance(seconds=3)
    assert auditor.tick() == []  # debounced: a rollout's many changes are one trigger
    clock.advance(seconds=3)
    [early] = auditor.tick()
    assert early.name == "shop-web" and early.outcome == "published", early
    assert early.verdict == "Degraded"  # the pod is not ready: seen at 2m06s, not at 5m
    # Every list of that verification came from the informers: the passes listed only the
    # TruthChecks (what decides what is due stays uncached).
    listed = {k: n - lists.get(k, 0) for k, n in api.emulator.lists.items()}
    assert {k: n for k, n in listed.items() if n} == {"truthchecks": 3}
    clock.advance(seconds=10)
    assert auditor.tick() == []  # judged: no second early audit for the same change


def test_a_flapping_pod_costs_at_most_one_early_audit_a_minute(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, watching: Any
) -> None:
    triggers = watching[1]
    auditor = _audited_once(api, kube, web, clock, watching)
    audited_at = []
    for second in range(0, 150, 10):  # not ready, ready, not ready... every 10 seconds
        ready = second % 20 == 10
        api.put(POD, pod("web-7d9f-1", ready=ready, restarts=second // 20, owner_uid=_owner(api)))
        until(lambda: len(triggers) == 1, what="noted")
        clock.advance(seconds=10)
        audited_at += [second + 10 for _ in auditor.tick()]
    # 150 s of flapping after the first audit: one early audit a minute, none lost.
    assert audited_at == [60, 120]


def test_a_watch_that_fails_falls_back_to_listing_and_recovers(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, watching: Any
) -> None:
    informers, _ = watching
    auditor = _audited_once(api, kube, web, clock, watching)
    api.fail_watches(503)  # every watch answers 503: the informers go stale
    until(lambda: not any(i.usable for i in informers.all()), within=15, what="unusable")
    lists = api.emulator.lists["pods"]
    clock.advance(minutes=6)
    [r] = auditor.tick()  # audited all the same, from fresh lists
    assert r.outcome == "unchanged" and r.verdict == "Healthy", r
    assert api.emulator.lists["pods"] == lists + 1
    api.fail_watches(None)
    until(lambda: all(i.usable for i in informers.all()), within=15, what="recovered")
    api.outage(503)  # and an outage of the whole API never crashes the auditor
    clock.advance(minutes=6)
    assert auditor.tick() == []
    api.outage(None)
    until(lambda: all(i.usable for i in informers.all()), within=30, what="recovered again")
    lists = api.emulator.lists["pods"]
    clock.advance(minutes=6)
    [r] = auditor.tick()
    assert r.outcome in ("published", "unchanged") and r.verdict, r
    assert api.emulator.lists["pods"] == lists  # from the informer again


def test_losing_the_lease_stops_the_informers(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, watching: Any
) -> None:
    informers, triggers = watching
    _world(api, web)
    a = _auditor(kube, clock, watching, elector=LeaseElector(kube, kube, "shop", "lease", "a"))
    b = Auditor(
        kube,
        kube,
        _judge_with(None),
        clock,
        ("shop",),
        elector=LeaseElector(kube, kube, "shop", "lease", "b"),
    )
    assert [r.outcome for r in a.tick()] == ["published"]
    assert informers.wait_synced(10)
    until(lambda: api.open_watches == len(APP_OBJECT_TYPES), what="watches open")
    clock.advance(minutes=6)  # a stopped renewing; b takes the Lease over
    assert [r.outcome for r in b.tick()] == ["unchanged"]
    assert a.tick() == []  # a learns it lost the Lease
    assert informers.all() == [] and len(triggers) == 0
    until(lambda: api.open_watches == 0, what="every watch closed")


def test_a_burst_whose_debounce_ends_between_passes_starts_the_next_pass_then(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    import threading

    from webhooks.common.argocd import AppRef

    _world(api, web)
    triggers = Triggers(clock)
    passes: list[list[str]] = []
    auditor = Auditor(
        kube,
        kube,
        _judge_with(None),
        clock,
        ("shop",),
        triggers=triggers,
        on_pass=lambda results, _: passes.append([r.outcome for r in results]),
    )
    stop = threading.Event()
    loop = threading.Thread(target=auditor.run, args=(stop,), kwargs={"every": 300})
    loop.start()
    try:
        until(lambda: passes == [["published"]], what="the first pass")
        clock.advance(minutes=2)
        triggers.note(AppRef("shop-web"), "Pod shop/web-7d9f-1 not ready")
        clock.advance(seconds=6)  # the debounce is over: no need to wait for --every (300 s)
        until(lambda: len(passes) == 2, within=10, what="an early pass")
        assert passes[1] in (["published"], ["unchanged"])
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()


def test_a_change_during_a_sync_is_left_to_the_sync_that_verifies_it(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, watching: Any
) -> None:
    from webhooks.cluster.resources import TRUTHCHECK

    triggers = watching[1]
    auditor = _audited_once(api, kube, web, clock, watching)
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    api.set_status(TRUTHCHECK, "shop", "shop-web", {**tc["status"], "phase": "Verifying"})
    api.put(POD, pod("web-7d9f-1", ready=False, owner_uid=_owner(api)))
    until(lambda: len(triggers) == 1)
    clock.advance(minutes=2)
    [r] = auditor.tick()
    assert r.outcome == "skipped" and "a sync is verifying it" in r.detail
