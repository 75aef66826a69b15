"""The auditor between syncs: the real kubernetes client against the mock API over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.fakeapi import ApiServer
from tests.postsync.world import (
    ES_ENTRY,
    EXTERNALSECRET,
    move_application,
    own,
    seed,
    serve_custom,
    stripe_api,
)
from tests.support.net import free_port
from webhooks.audit.auditor import Auditor
from webhooks.audit.lease import LeaseElector
from webhooks.cli.verify import _judge_with
from webhooks.cluster.reader import KubeClient, connect
from webhooks.cluster.resources import APP_OBJECT_TYPES, APPLICATION, LEASE, TRUTHCHECK
from webhooks.common.times import format_time, unix_seconds
from webhooks.ledger.store import IntentStore

Web = tuple[str, dict[str, int]]
START = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


@dataclass
class StepClock:
    at: datetime = START
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[IntentStore]:
    """The real SQLite ledger, closed after the test (a test may close it sooner)."""
    from webhooks.ledger import open_store

    store = open_store(str(tmp_path / "ledger.db"))
    yield store
    store.close()


def _world(api: ApiServer, web: Web, *, broken: bool = False) -> None:
    url, _ = web
    probes = {"web-health": f"{url}/healthz"}
    if broken:
        probes["web-checkout"] = f"{url}/broken"
    seed(api, probes, phase="Succeeded")
    app = api.get(APPLICATION, "argocd", "shop-web")
    assert app is not None
    app["status"]["reconciledAt"] = "2026-11-27T12:59:00Z"
    api.put(APPLICATION, app)


def _auditor(kube: KubeClient, clock: StepClock, **kw: Any) -> Auditor:
    return Auditor(kube, kube, _judge_with(None), clock, ("shop",), **kw)


def _status(api: ApiServer) -> dict[str, Any]:
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    return dict(tc.get("status") or {})


def test_first_audit_publishes_and_a_quiet_one_writes_nothing(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    _world(api, web)
    auditor = _auditor(kube, clock)
    [first] = auditor.tick()
    assert first.outcome == "published" and first.verdict == "Healthy", first
    st = _status(api)
    assert st["verdict"] == "Healthy" and st["verifiedBy"] == "audit"
    assert st["lastVerifiedAt"] == "2026-11-27T13:00:00Z"
    writes = api.emulator.status_patches
    assert auditor.tick() == []  # not due yet: the interval (5m) has not passed
    clock.advance(minutes=6)
    [again] = auditor.tick()
    assert again.outcome == "unchanged"
    assert api.emulator.status_patches == writes  # Argo CD is not made to refresh for nothing


def test_the_heartbeat_keeps_the_health_message_young_and_a_stopped_auditor_shows(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    from tests.argocd_health.sandbox import run_health
    from tests.argocd_health.test_verdict_age import SCRIPT, STALE_NOTE

    _world(api, web)
    auditor = _auditor(kube, clock)
    outcomes = []
    for _ in range(6):  # a quiet application, audited every 6 minutes for half an hour
        app = api.get(APPLICATION, "argocd", "shop-web")
        assert app is not None
        app["status"]["reconciledAt"] = format_time(clock.now() - timedelta(minutes=1))
        api.put(APPLICATION, app)
        outcomes += [r.outcome for r in auditor.tick()]
        clock.advance(minutes=6)
    assert outcomes == [
        "published",
        "unchanged",
        "unchanged",
        "unchanged",
        "unchanged",
        "heartbeat",
    ]
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    beat = START + timedelta(minutes=30)
    assert tc["status"]["lastVerifiedAt"] == "2026-11-27T13:30:00Z"
    assert tc["status"]["lastVerifiedEpoch"] == unix_seconds(beat)
    healthy = run_health(SCRIPT, tc, now=unix_seconds(beat + timedelta(minutes=7)))
    assert healthy["status"] == "Healthy"
    assert healthy["message"].endswith("(verified 5m ago by audit)")
    # Then the auditor stops: nothing rewrites the status, Argo CD's clock goes on.
    stopped = run_health(SCRIPT, tc, now=unix_seconds(beat + timedelta(hours=2, minutes=10)))
    assert stopped["status"] == "Healthy"
    assert stopped["message"].endswith(f"(verdict is 2h old: {STALE_NOTE})")


def test_an_edited_truthcheck_is_published_at_its_next_audit_then_left_alone(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    from tests.argocd_health.sandbox import run_health
    from tests.argocd_health.test_verdict_age import SCRIPT

    _world(api, web)
    auditor = _auditor(kube, clock)
    [first] = auditor.tick()
    assert first.outcome == "published" and _status(api)["observedGeneration"] == 1
    # A user edits the spec (a new generation); the verdict it leads to is the same.
    kube.patch_object(TRUTHCHECK, "shop", "shop-web", {"spec": {"observationWindow": "3m"}})
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None and tc["metadata"]["generation"] == 2
    waiting = run_health(SCRIPT, tc, now=unix_seconds(clock.now()))
    assert waiting["message"] == "Awaiting verification of generation 2 (the TruthCheck changed)"
    clock.advance(minutes=6)
    writes = api.emulator.status_patches
    [judged] = auditor.tick()
    assert judged.outcome == "published" and judged.verdict == "Healthy", judged
    assert api.emulator.status_patches == writes + 1
    st = _status(api)
    assert st["observedGeneration"] == 2 and st["lastVerifiedAt"] == "2026-11-27T13:06:00Z"
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    shown = run_health(SCRIPT, tc or {}, now=unix_seconds(clock.now() + timedelta(minutes=1)))
    assert shown["status"] == "Healthy"
    assert shown["message"].endswith("(verified <5m ago by audit)"), shown
    # The new generation judged, nothing is news any more: no write until the heartbeat.
    clock.advance(minutes=6)
    app = api.get(APPLICATION, "argocd", "shop-web")
    assert app is not None
    app["status"]["reconciledAt"] = format_time(clock.now() - timedelta(minutes=1))
    api.put(APPLICATION, app)  # Argo CD's controller still reconciling
    [quiet] = auditor.tick()
    assert quiet.outcome == "unchanged"
    assert api.emulator.status_patches == writes + 1


def test_a_regression_between_syncs_turns_the_truthcheck_degraded_and_is_recorded(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, ledger: IntentStore
) -> None:
    _world(api, web)
    auditor = _auditor(kube, clock, ledger=ledger)
    assert [r.verdict for r in auditor.tick()] == ["Healthy"]
    _world(api, web, broken=True)  # the checkout endpoint starts failing, no sync
    clock.advance(minutes=6)
    [r] = auditor.tick()
    assert r.outcome == "published" and r.verdict == "Degraded"
    st = _status(api)
    assert st["verdict"] == "Degraded"
    assert any(f["check"] == "probes/failed" for f in st["findings"])
    records = list(ledger.verifications(app="shop-web"))
    assert [rec["verdict"] for rec in records] == ["Healthy", "Degraded"]


def test_hands_off_while_a_sync_verifies_or_when_opted_out(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    _world(api, web)
    api.set_status(TRUTHCHECK, "shop", "shop-web", {"phase": "Verifying"})
    [r] = _auditor(kube, clock).tick()
    assert r.outcome == "skipped" and "a sync is verifying it" in r.detail
    assert _status(api) == {"phase": "Verifying"}
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    tc["spec"]["audit"] = {"enabled": False}
    tc["status"] = {}
    api.put(TRUTHCHECK, tc)
    [r] = _auditor(kube, clock).tick()
    assert r.outcome == "skipped" and "enabled is false" in r.detail


def test_a_running_sync_is_left_to_its_hook(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, phase="Running")
    app = api.get(APPLICATION, "argocd", "shop-web")
    assert app is not None
    for res in app["status"]["operationState"]["syncResult"]["resources"]:
        res.pop("syncPhase", None)  # still in its Sync phase: the PostSync hook has not run
    api.put(APPLICATION, app)
    [r] = _auditor(kube, clock).tick()
    assert r.outcome == "skipped" and r.detail == "a sync is running"


def test_one_replica_audits_the_other_stands_by_and_takes_over_when_it_stops(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    _world(api, web)
    a = _auditor(kube, clock, elector=LeaseElector(kube, kube, "shop", "auditor", "replica-a"))
    b = _auditor(kube, clock, elector=LeaseElector(kube, kube, "shop", "auditor", "replica-b"))
    assert [r.outcome for r in a.tick()] == ["published"]
    clock.advance(seconds=10)
    assert b.tick() == []  # standby: a holds the Lease
    clock.advance(minutes=6)  # a stopped (no renewal): its Lease expired
    assert [r.outcome for r in b.tick()] == ["unchanged"]
    lease = api.get(LEASE, "shop", "auditor")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "replica-b"
    assert lease["spec"]["leaseTransitions"] == 1
    assert a.tick() == []  # a comes back: b holds it now


def test_an_unreachable_api_never_crashes_the_auditor(clock: StepClock) -> None:
    dead = connect(server="http://127.0.0.1:9", timeout=1)
    try:
        elector = LeaseElector(dead, dead, "shop", "auditor", "replica-a")
        assert _auditor(dead, clock, elector=elector).tick() == []
        assert _auditor(dead, clock).tick() == []
    finally:
        dead.close()


def test_a_failing_truthcheck_is_backed_off_and_the_others_go_on(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    _world(api, web)
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    orphan = json.loads(json.dumps(tc))
    orphan["metadata"] = {"name": "orphan", "namespace": "shop"}
    orphan["spec"]["application"] = "gone"
    api.put(TRUTHCHECK, orphan)
    auditor = _auditor(kube, clock)
    results = {r.name: r for r in auditor.tick()}
    assert results["shop-web"].outcome == "published"
    assert results["orphan"].outcome == "failed"
    assert "Application argocd/gone not found" in results["orphan"].detail
    clock.advance(seconds=10)
    results = {r.name: r for r in auditor.tick()}
    assert results["orphan"].outcome == "skipped" and "backing off" in results["orphan"].detail


def test_the_command_runs_one_pass(api: ApiServer, web: Web) -> None:
    _world(api, web)
    app = api.get(APPLICATION, "argocd", "shop-web")
    assert app is not None  # the command runs on the wall clock: Argo CD looked just now
    app["status"]["reconciledAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    api.put(APPLICATION, app)
    out = subprocess.run(
        [sys.executable, "-m", "webhooks", "audit", "--server", api.url, "-n", "shop", "--once"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows == [
        {"namespace": "shop", "name": "shop-web", "outcome": "published", "verdict": "Healthy"}
    ]


def _intent(uid: str, at: datetime, *, app: str = "shop-web", allowed: bool = True) -> Any:
    from tests.ledger.ledger_support import draft

    record = draft(uid, app=app, at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    record["decision"]["allowed"] = allowed
    return record


class CountingLedger:
    """The real SQLite ledger, counting the auditor's reads of intents."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.reads: list[dict[str, Any]] = []

    def intents(self, **kw: Any) -> Any:
        self.reads.append(kw)
        return self.store.intents(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_new_intent_brings_the_audit_forward_with_one_ledger_read_per_pass(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, ledger: IntentStore
) -> None:
    _world(api, web)
    counting = CountingLedger(ledger)
    auditor = _auditor(kube, clock, ledger=counting)
    assert [r.outcome for r in auditor.tick()] == ["published"]
    clock.advance(minutes=2)
    # Another application's change, a denied change and a dry run are not news for shop-web.
    ledger.append(_intent("other", clock.at, app="billing"))
    ledger.append(_intent("denied", clock.at, allowed=False))
    dry = _intent("dry", clock.at)
    dry["dryRun"] = True
    ledger.append(dry)
    reads = len(counting.reads)
    assert auditor.tick() == []  # 2 of its 5 minutes: still waiting
    assert len(counting.reads) == reads + 1  # one query for the whole pass
    assert counting.reads[-1]["since"] == START and "app" not in counting.reads[-1]
    clock.advance(seconds=30)
    ledger.append(_intent("rollout", clock.at))  # kubectl set image, say
    [r] = auditor.tick()
    assert r.name == "shop-web" and r.outcome == "unchanged", r  # audited at 2m30s
    clock.advance(seconds=10)
    assert auditor.tick() == []  # that intent is judged now: no second early audit


def test_an_intent_recorded_under_an_apps_namespaced_key_brings_its_audit_forward(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, ledger: IntentStore
) -> None:
    # Argo CD tracks team-a's shop-web as "team-a_shop-web"; the webhook records it so.
    _world(api, web)
    move_application(api, "team-a")
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    tc["spec"]["applicationNamespace"] = "team-a"
    api.put(TRUTHCHECK, tc)
    auditor = _auditor(kube, clock, ledger=ledger)
    assert [r.outcome for r in auditor.tick()] == ["published"]
    clock.advance(minutes=2)
    assert auditor.tick() == []  # 2 of its 5 minutes: still waiting
    ledger.append(_intent("rollout", clock.at, app="team-a_shop-web"))
    clock.advance(seconds=30)
    [r] = auditor.tick()
    assert r.name == "shop-web", r  # audited at 2m30s, not at 5m


def test_early_audits_are_spaced_and_a_down_ledger_only_costs_the_trigger(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock, ledger: IntentStore
) -> None:
    _world(api, web)
    auditor = _auditor(kube, clock, ledger=ledger)
    assert [r.outcome for r in auditor.tick()] == ["published"]
    clock.advance(seconds=20)
    ledger.append(_intent("fast", clock.at))
    assert auditor.tick() == []  # a minute at least between audits of one TruthCheck
    clock.advance(seconds=40)
    assert [r.outcome for r in auditor.tick()] == ["unchanged"]
    clock.advance(minutes=2)
    ledger.append(_intent("later", clock.at))
    ledger.close()  # the ledger goes away
    clock.advance(seconds=30)
    assert auditor.tick() == []  # no trigger and no failure: the interval still holds
    clock.advance(minutes=6)
    # Due on its interval with the ledger gone: judged without intents, not failed.
    [due_now] = auditor.tick()
    assert due_now.outcome in ("published", "unchanged"), due_now


def test_the_running_auditor_serves_its_pass_metrics(
    api: ApiServer, web: Web, tmp_path: Path
) -> None:
    import signal
    import time
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    _world(api, web)
    port = free_port()
    command = [sys.executable, "-m", "webhooks", "audit", "--server", api.url, "-n", "shop"]
    command += ["--metrics-port", str(port), "--metrics-address", "127.0.0.1", "--every", "1"]
    log = tmp_path / "auditor.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    samples: dict[tuple[str, str], float] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                text = ""
            samples = {
                (
                    s.name,
                    s.labels.get("outcome", s.labels.get("le", s.labels.get("state", ""))),
                ): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name.startswith("truthgate_audit_")
            }
            if (
                samples.get(("truthgate_audit_duration_seconds_count", ""), 0) >= 2
                and samples.get(("truthgate_audit_informers", "current"), 0) > 0
            ):
                break
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()
    assert samples[("truthgate_audit_results_total", "published")] == 1
    assert abs(samples[("truthgate_audit_last_pass_timestamp_seconds", "")] - time.time()) < 60
    passes = samples[("truthgate_audit_duration_seconds_count", "")]
    assert passes >= 2
    # Every pass took a measurable, bounded time: all fall in the 600 s bucket.
    assert samples[("truthgate_audit_duration_seconds_bucket", "600.0")] == passes
    assert samples[("truthgate_audit_duration_seconds_sum", "")] > 0
    # The verifications' lists now come from watches (one per type the app is read from).
    assert samples[("truthgate_audit_informers", "current")] == len(APP_OBJECT_TYPES)
    assert samples[("truthgate_audit_informers", "listing")] == 0


def _with_baseline(api: ApiServer, url: str) -> None:
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    tc["spec"]["baseline"] = {
        "prometheus": {"url": url},
        "metrics": [{"name": "error-ratio", "query": "sum(rate(errors_total[1m]))"}],
        "windows": {"observe": "10m", "baseline": "30m"},
    }
    api.put(TRUTHCHECK, tc)


def _said(status: dict[str, Any]) -> str:
    return json.dumps(status.get("findings", [])) + str(status.get("summary"))


def test_a_prometheus_outage_is_said_in_the_verdict_and_never_stops_the_auditor(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    _world(api, web)
    _with_baseline(api, f"http://127.0.0.1:{free_port()}")  # nothing listens: refused
    auditor = _auditor(kube, clock)
    [first] = auditor.tick()
    # Judged on what could be seen; the metric it could not read is named, not guessed.
    assert first.outcome == "published" and first.verdict == "Healthy", first
    said = _said(_status(api))
    assert "error-ratio" in said and "could not fetch" in said, said
    # The next pass goes on as usual (the outage is not this TruthCheck's failure).
    clock.advance(minutes=6)
    [again] = auditor.tick()
    assert again.outcome == "unchanged", again


def test_a_prometheus_that_did_not_answer_is_asked_once_per_pass_not_once_per_truthcheck(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    from tests.support.prometheus import Reply, stand_in

    _world(api, web)
    with stand_in(lambda _request: Reply(200, b"{}", delay_seconds=60)) as hung:
        _with_baseline(api, hung.url)
        tc = api.get(TRUTHCHECK, "shop", "shop-web")
        assert tc is not None
        for name in ("shop-web-b", "shop-web-c"):
            twin = json.loads(json.dumps(tc))
            twin["metadata"] = {"name": name, "namespace": "shop"}
            twin.pop("status", None)
            api.put(TRUTHCHECK, twin)
        # One at a time: the first waits out the deadline (bounded, 30 s), the others skip at
        # once; each verdict names the metric it could not read.
        results = _auditor(kube, clock, concurrency=1).tick()
        assert [(r.outcome, r.verdict) for r in results] == [("published", "Healthy")] * 3
        assert len(hung.seen) <= 3  # the first TruthCheck's attempts only
        statuses = [api.get(TRUTHCHECK, "shop", r.name) for r in results]
        said = [_said((tc or {}).get("status") or {}) for tc in statuses]
        assert all("error-ratio" in s and "could not fetch" in s for s in said), said
        assert sum("earlier in this audit pass" in s for s in said) == 2, said


def test_a_custom_resource_that_stops_syncing_between_syncs_degrades_the_app(
    api: ApiServer, kube: KubeClient, web: Web, clock: StepClock
) -> None:
    _world(api, web)
    serve_custom(api, EXTERNALSECRET)
    own(api, ES_ENTRY)
    stripe_api(api, START - timedelta(hours=1), ready="True")
    auditor = _auditor(kube, clock)
    assert [r.verdict for r in auditor.tick()] == ["Healthy"]
    stripe_api(api, clock.now())  # its provider starts refusing, no sync
    clock.advance(minutes=36)
    [r] = auditor.tick()
    assert r.outcome == "published" and r.verdict == "Degraded"
    [found] = [f for f in _status(api)["findings"] if f["check"] == "readiness/custom-resource"]
    assert found["message"].startswith("ExternalSecret shop/stripe-api: Ready=False for 36m")
