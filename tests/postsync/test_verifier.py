"""The verification lifecycle over time: observation window, --watch, pre-sync, races.

The Verifier runs in-process against the fake API with a fake clock, so minutes pass at once
and the world can change between rounds exactly when a test says. Each status it writes is also
run through the real health.lua, to see what Argo CD would show at that moment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.argocd_health.sandbox import run_health
from tests.cluster.fakeapi import ApiServer
from tests.ledger.ledger_support import draft
from tests.postsync.world import (
    REVISION,
    SYNC_STARTED,
    application,
    iso,
    move_application,
    pod,
    seed,
    truthcheck,
)
from webhooks.cluster.reader import KubeClient
from webhooks.cluster.resources import APPLICATION, POD, REPLICASET, TRUTHCHECK
from webhooks.errors import BadRequestError, ClusterError
from webhooks.ledger import open_store
from webhooks.postsync.verify import Verifier, VerifyOptions
from webhooks.verdict.judge import judge

HEALTH_LUA = (
    Path(__file__).resolve().parents[2] / "argocd/health/truthgate.dev/TruthCheck/health.lua"
).read_text()
Web = tuple[str, dict[str, int]]


class FakeClock:
    """Time that moves only when slept; a test hooks what happens at a given minute."""

    def __init__(self, start: datetime) -> None:
        self.t = start
        self.slept: list[float] = []
        self.at: list[tuple[datetime, Callable[[], None]]] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += timedelta(seconds=seconds)
        due = [fn for when, fn in self.at if when <= self.t]
        self.at = [(when, fn) for when, fn in self.at if when > self.t]
        for fn in due:
            fn()


def tc(api: ApiServer) -> dict[str, Any]:
    obj = api.get(TRUTHCHECK, "shop", "shop-web")
    assert obj is not None
    return obj


def health(api: ApiServer) -> dict[str, Any]:
    return run_health(HEALTH_LUA, tc(api))


def verifier(kube: KubeClient, clock: FakeClock) -> Verifier:
    return Verifier(kube, kube, judge, clock)


OPTS = VerifyOptions(app="shop-web", namespace="shop")


def test_observes_the_window_as_progressing_then_publishes(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, window="2m", phase="Succeeded")
    clock = FakeClock(SYNC_STARTED + timedelta(seconds=40))
    seen: dict[str, Any] = {}
    clock.at.append((clock.t, lambda: seen.update(status=tc(api)["status"], health=health(api))))
    outcome = verifier(kube, clock).run(OPTS)

    assert clock.slept == [120.0]
    assert seen["status"]["phase"] == "Verifying"
    assert seen["health"] == {
        "status": "Progressing",
        "message": f"Verifying revision {REVISION}: observing until "
        f"{iso(SYNC_STARTED + timedelta(seconds=160))}",
    }
    assert outcome.exit_code == 0 and outcome.verdict is not None
    assert outcome.verdict["verdict"] == "Healthy"
    assert health(api)["status"] == "Healthy"
    assert tc(api)["status"]["verifiedAt"] == iso(SYNC_STARTED + timedelta(seconds=160))


def test_watch_turns_degraded_when_the_world_breaks_mid_budget(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, codes = web
    seed(
        api, {"web-health": f"{url}/healthz"}, window="10m", phase="Succeeded", on_divergence="both"
    )
    clock = FakeClock(SYNC_STARTED + timedelta(minutes=1))
    history: list[str] = []
    # Twenty minutes of budget would be the same story: a slow regression after a green sync.
    clock.at.append((SYNC_STARTED + timedelta(minutes=5), lambda: codes.update({"/healthz": 503})))
    v = verifier(kube, clock)
    original = v._publish

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        history.append(str(result.status.get("verdict") or result.status.get("phase")))
        return result

    v._publish = spy  # type: ignore[method-assign]
    outcome = v.run(
        VerifyOptions(app="shop-web", namespace="shop", wait=False, watch=True, interval_seconds=60)
    )
    assert history[0] == "Healthy"
    assert history[-1] == "Degraded"
    assert "Healthy" in history[:4] and history.index("Degraded") >= 3
    # The budget (10m after the sync finished at 10:00:30) ends the watch.
    assert clock.t == SYNC_STARTED + timedelta(minutes=10, seconds=30)
    assert outcome.verdict is not None and outcome.verdict["verdict"] == "Degraded"
    assert outcome.exit_code == 1  # onDivergence: both
    assert health(api)["status"] == "Degraded"
    assert "503" in health(api)["message"]


def test_watch_stops_when_a_newer_sync_starts(api: ApiServer, kube: KubeClient, web: Web) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, window="30m", phase="Succeeded")
    clock = FakeClock(SYNC_STARTED + timedelta(minutes=1))
    newer = SYNC_STARTED + timedelta(minutes=4)

    def new_sync() -> None:
        api.put(APPLICATION, application("def456", newer))

    clock.at.append((newer, new_sync))
    outcome = verifier(kube, clock).run(
        VerifyOptions(app="shop-web", namespace="shop", wait=False, watch=True, interval_seconds=60)
    )
    assert outcome.rounds == 3  # 10:01, 10:02, 10:03; at 10:04 the newer sync is seen
    assert clock.t == newer
    assert tc(api)["status"]["revision"] == REVISION


def test_a_conflicting_write_is_retried_on_the_fresh_object(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, phase="Succeeded")
    earlier = SYNC_STARTED - timedelta(hours=1)
    # Between our read and our write, another run (of an earlier sync) writes the status.
    api.emulator.before_status_patch.append(
        lambda: api.emulator.overwrite_status(
            TRUTHCHECK,
            "shop",
            "shop-web",
            {
                "phase": "Verified",
                "verdict": "Degraded",
                "revision": "old999",
                "syncStartedAt": iso(earlier),
                "summary": "old",
                "conditions": [
                    {
                        "type": "Verified",
                        "status": "False",
                        "reason": "Degraded",
                        "message": "old",
                        "lastTransitionTime": iso(earlier),
                    }
                ],
            },
        )
    )
    outcome = verifier(kube, FakeClock(SYNC_STARTED + timedelta(minutes=1))).run(
        VerifyOptions(app="shop-web", namespace="shop", wait=False)
    )
    assert api.emulator.conflicts == 1 and api.emulator.status_patches == 2
    st = tc(api)["status"]
    assert outcome.verdict is not None
    assert st["verdict"] == "Healthy" and st["revision"] == REVISION
    assert st["summary"] == outcome.verdict["summary"]
    # Rebuilt from the fresh object: the condition flipped False -> True, so it moved.
    assert st["conditions"][0]["lastTransitionTime"] == iso(SYNC_STARTED + timedelta(minutes=1))


def test_an_older_sync_never_overwrites_a_newer_verdict(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    newer = {
        "phase": "Verified",
        "verdict": "Healthy",
        "revision": "def456",
        "syncStartedAt": iso(SYNC_STARTED + timedelta(minutes=30)),
        "summary": "newer",
    }
    api.set_status(TRUTHCHECK, "shop", "shop-web", newer)
    outcome = verifier(kube, FakeClock(SYNC_STARTED + timedelta(minutes=1))).run(
        VerifyOptions(app="shop-web", namespace="shop", wait=False)
    )
    assert outcome.verdict is None and "newer sync" in outcome.message
    assert tc(api)["status"] == newer


def test_rerunning_for_the_same_sync_rewrites_the_same_status(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    clock = FakeClock(SYNC_STARTED + timedelta(minutes=1))
    verifier(kube, clock).run(VerifyOptions(app="shop-web", namespace="shop", wait=False))
    first = tc(api)["status"]
    clock.t += timedelta(minutes=3)
    verifier(kube, clock).run(VerifyOptions(app="shop-web", namespace="shop", wait=False))
    second = tc(api)["status"]
    assert second["verifiedAt"] != first["verifiedAt"]
    # Same verdict: the condition did not transition, so its time holds. (Messages quote the
    # probe latency measured this time, so only they may differ.)
    assert set(second) == set(first)
    for key in ("phase", "verdict", "revision", "syncStartedAt", "observedGeneration"):
        assert second[key] == first[key]
    assert second["conditions"][0]["lastTransitionTime"] == iso(SYNC_STARTED + timedelta(minutes=1))
    assert [f["check"] for f in second["findings"]] == [f["check"] for f in first["findings"]]


def test_pre_sync_sets_aside_the_last_verdict_so_the_fixing_sync_is_not_blocked(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    clock = FakeClock(SYNC_STARTED + timedelta(minutes=1))
    verifier(kube, clock).run(VerifyOptions(app="shop-web", namespace="shop", wait=False))
    assert health(api)["status"] == "Degraded"
    # The fix is pushed: Argo CD starts a new sync and runs the PreSync hook first.
    fix = SYNC_STARTED + timedelta(minutes=20)
    api.put(APPLICATION, application("def456", fix))
    clock.t = fix + timedelta(seconds=2)
    outcome = verifier(kube, clock).run(
        VerifyOptions(app="shop-web", namespace="shop", phase="pre-sync")
    )
    assert outcome.exit_code == 0
    st = tc(api)["status"]
    assert st["phase"] == "Pending" and "verdict" not in st and "findings" not in st
    assert health(api) == {
        "status": "Healthy",
        "message": "Sync started: awaiting verification of revision def456",
    }


def test_pre_sync_before_the_first_install_is_a_no_op(api: ApiServer, kube: KubeClient) -> None:
    api.put(APPLICATION, application())
    outcome = verifier(kube, FakeClock(SYNC_STARTED)).run(
        VerifyOptions(app="shop-web", namespace="shop", phase="pre-sync")
    )
    assert outcome.exit_code == 0 and "no TruthCheck yet" in outcome.message


def test_a_spec_it_cannot_use_is_published_as_unknown_then_raised(
    api: ApiServer, kube: KubeClient
) -> None:
    api.put(APPLICATION, application())
    bad = truthcheck({"ftp": "ftp://files.example.com/x"})
    api.put(TRUTHCHECK, bad)
    with pytest.raises(BadRequestError, match=r"spec.probes\[0\].url"):
        verifier(kube, FakeClock(SYNC_STARTED)).run(
            VerifyOptions(app="shop-web", namespace="shop", wait=False)
        )
    st = tc(api)["status"]
    assert st["verdict"] == "Unknown"
    # Not judging is not the application's problem: Healthy, and the message says why.
    assert health(api)["status"] == "Healthy"
    assert health(api)["message"].startswith(
        "Not judged by truthgate (verdict Unknown): Not verified: spec.probes[0].url"
    )


def test_a_newer_sync_winning_the_race_keeps_its_status(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    newer = {
        "phase": "Pending",
        "revision": "def456",
        "syncStartedAt": iso(SYNC_STARTED + timedelta(minutes=9)),
        "summary": "Sync started: awaiting verification of revision def456",
    }
    api.emulator.before_status_patch.append(
        lambda: api.emulator.overwrite_status(TRUTHCHECK, "shop", "shop-web", newer)
    )
    outcome = verifier(kube, FakeClock(SYNC_STARTED + timedelta(minutes=10))).run(
        VerifyOptions(app="shop-web", namespace="shop", wait=False)
    )
    assert api.emulator.conflicts == 1
    assert outcome.verdict is None
    assert tc(api)["status"] == newer


@pytest.mark.parametrize(
    ("named", "told"),
    [(None, "gitops"), ("gitops", None)],
    ids=["hook-told-the-namespace", "truthcheck-names-it"],
)
def test_argo_cd_outside_the_argocd_namespace(
    api: ApiServer, kube: KubeClient, web: Web, named: str | None, told: str | None
) -> None:
    # Argo CD runs in "gitops": a TruthCheck matches on what the hook knows, no "argocd" default.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    move_application(api, "gitops")
    check = tc(api)
    if named is not None:
        check["spec"]["applicationNamespace"] = named
    api.put(TRUTHCHECK, check)
    outcome = verifier(kube, FakeClock(SYNC_STARTED)).run(
        VerifyOptions(app="shop-web", app_namespace=told, namespace="shop", wait=False)
    )
    assert outcome.verdict is not None and outcome.verdict["verdict"] == "Healthy"
    # A TruthCheck naming another Argo CD's application is not this one's.
    check["spec"]["applicationNamespace"] = "elsewhere"
    api.put(TRUTHCHECK, check)
    with pytest.raises(ClusterError, match="no TruthCheck in namespace shop"):
        verifier(kube, FakeClock(SYNC_STARTED)).run(
            VerifyOptions(app="shop-web", app_namespace="gitops", namespace="shop", wait=False)
        )


def _team_a_intents(kube: KubeClient, tmp_path: Path, keys: dict[str, str]) -> list[str]:
    """The intents a verification of team-a's shop-web collects from a ledger holding one
    record (uid → app key) per entry of ``keys``, a few seconds into the sync."""
    store = open_store(str(tmp_path / "ledger.db"))
    for n, (uid, key) in enumerate(keys.items()):
        store.append(draft(uid, app=key, at=iso(SYNC_STARTED + timedelta(seconds=5 + n))))
    saved = tmp_path / "evidence.json"
    try:
        Verifier(kube, kube, judge, FakeClock(SYNC_STARTED), ledger=store).run(
            VerifyOptions(
                app="shop-web",
                app_namespace="team-a",
                namespace="shop",
                wait=False,
                save_evidence=saved,
            )
        )
    finally:
        store.close()
    return [i["uid"] for i in json.loads(saved.read_text())["intents"]]


def test_an_app_outside_argo_cds_namespace_gets_the_intents_recorded_under_its_key(
    api: ApiServer, kube: KubeClient, web: Web, tmp_path: Path
) -> None:
    # Apps in any namespace: Argo CD tracks team-a's shop-web as "team-a_shop-web", and the
    # webhook records its intents under that key.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    move_application(api, "team-a")
    keys = {"ours": "team-a_shop-web", "billing": "team-a_billing"}
    assert _team_a_intents(kube, tmp_path, keys) == ["ours"]


@pytest.mark.parametrize(
    "case",
    [("argocd", ["ours"]), (None, ["ours", "argocds"])],
    ids=["application-says-where-argo-cd-runs", "it-does-not-say"],
)
def test_a_bare_key_is_the_control_plane_apps_when_the_application_says_where_that_is(
    api: ApiServer, kube: KubeClient, web: Web, tmp_path: Path, case: tuple[str | None, list[str]]
) -> None:
    # argocd's own shop-web is recorded under the bare key; team-a's under "team-a_shop-web".
    controller_namespace, expected = case
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    move_application(api, "team-a")
    if controller_namespace:
        moved = api.get(APPLICATION, "team-a", "shop-web")
        assert moved is not None
        moved["status"]["controllerNamespace"] = controller_namespace
        api.put(APPLICATION, moved)
    keys = {"ours": "team-a_shop-web", "argocds": "shop-web"}
    assert _team_a_intents(kube, tmp_path, keys) == expected


def test_a_pod_evicted_since_the_sync_reaches_the_truthcheck_as_a_warning(
    api: ApiServer, kube: KubeClient, web: Web
) -> None:
    # The collector keeps the Failed pod the kubelet evicted (no phase filter): its replacement
    # serves, the counts are whole, and the TruthCheck says what happened.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, phase="Succeeded")
    rs = api.get(REPLICASET, "shop", "web-7d9f")
    assert rs is not None
    gone = pod("web-7d9f-0", owner_uid=rs["metadata"]["uid"])
    evicted_at = iso(SYNC_STARTED + timedelta(minutes=6))
    gone["status"] = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: "
        "90Mi. Container web was using 900Mi, request is 128Mi, has larger consumption of memory. ",
        "conditions": [
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "TerminationByKubelet",
                "lastTransitionTime": evicted_at,
            }
        ],
    }
    api.put(POD, gone)
    clock = FakeClock(SYNC_STARTED + timedelta(minutes=10))
    outcome = verifier(kube, clock).run(VerifyOptions(app="shop-web", namespace="shop", wait=False))
    assert outcome.verdict is not None and outcome.verdict["verdict"] == "Healthy"
    [f] = [f for f in tc(api)["status"]["findings"] if f["check"] == "stability/evicted"]
    assert f["severity"] == "warning"
    assert f["message"] == (
        "Deployment shop/web: 1 pod evicted since sync: the node was low on resource: memory "
        f"(container web using 900Mi, request 128Mi); last at {evicted_at} on node node-1"
    )
