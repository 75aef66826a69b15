"""Drift: out-of-band changes by humans, and declared break-glass ones."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import evidence, intent, obj, run
from webhooks.checks import drift


def _intent(
    user: str, cls: str, when: str = "2026-11-27T10:07:00Z", **extra: Any
) -> dict[str, Any]:
    extra.setdefault("patch", [{"op": "replace", "path": "/spec/replicas", "value": 7}])
    return intent("Deployment", "web", when=when, user=user, actor_class=cls, uid="u", **extra)


def test_human_change_after_sync_is_critical_drift_with_who_and_what() -> None:
    [f] = run(drift.check, evidence([], intents=[_intent("alice@example.com", "human")]))
    assert f["severity"] == "critical" and f["check"] == "drift/human"
    assert f["message"] == (
        "Deployment shop/web: changed out of band by alice@example.com at 2026-11-27T10:07:00Z "
        "(UPDATE /spec/replicas); Git no longer describes it"
    )


def test_break_glass_is_a_warning_with_the_reason() -> None:
    intent = _intent("alice@example.com", "human", breakGlass="INC-4821 checkout down")
    [f] = run(drift.check, evidence([], intents=[intent]))
    assert f["severity"] == "warning" and f["check"] == "drift/break-glass"
    assert (
        "by alice@example.com" in f["message"]
        and "reason: INC-4821 checkout down" in (f["message"])
    )


def test_repeated_edits_are_one_finding() -> None:
    intents = [_intent("bob", "human", when=f"2026-11-27T10:0{i}:00Z") for i in range(3, 6)]
    [f] = run(drift.check, evidence([], intents=intents))
    assert "by bob 3 times, last at 2026-11-27T10:05:00Z" in f["message"]


def test_argocd_controllers_dry_runs_denials_and_earlier_edits_are_not_drift() -> None:
    intents = [
        _intent("system:serviceaccount:argocd:argocd-application-controller", "argocd"),
        _intent("system:serviceaccount:kube-system:horizontal-pod-autoscaler", "controller"),
        _intent("alice", "human", dryRun=True),
        _intent("alice", "human", decision={"allowed": False, "denials": ["x"], "warnings": []}),
        _intent("alice", "human", when="2026-11-27T09:00:00Z"),
    ]
    assert run(drift.check, evidence([], intents=intents)) == []


def test_other_apps_objects_are_not_ours() -> None:
    intent = _intent("alice", "human", app="billing", name="api")
    assert (
        run(drift.check, evidence([obj("Deployment", "web", api="apps/v1")], intents=[intent]))
        == []
    )


def test_unclassified_actor_is_a_warning() -> None:
    [f] = run(drift.check, evidence([], intents=[_intent("system:anonymous", "unknown")]))
    assert f["check"] == "drift/unattributed" and f["severity"] == "warning"


def test_a_rollout_restart_by_hand_is_a_warning_not_drift_from_git() -> None:
    marker = "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"
    first = {"op": "add", "path": "/spec/template/metadata/annotations", "value": {}}
    first["value"] = {"kubectl.kubernetes.io/restartedAt": "2026-11-27T10:07:00Z"}
    restarts = [
        _intent("bob", "human", patch=[first]),
        _intent("bob", "human", when="2026-11-27T10:09:00Z", patch=[{"op": "add", "path": marker}]),
    ]
    [f] = run(drift.check, evidence([], intents=restarts))
    assert f["check"] == "drift/restart" and f["severity"] == "warning"
    assert f["message"] == (
        "Deployment shop/web: restarted by bob 2 times, last at 2026-11-27T10:09:00Z (kubectl "
        "rollout restart); its pods were replaced, its spec is still Git's"
    )
    scaled = _intent("bob", "human", when="2026-11-27T10:10:00Z")  # and then a real change
    [f] = run(drift.check, evidence([], intents=[*restarts, scaled]))
    assert f["check"] == "drift/human" and f["severity"] == "critical"
