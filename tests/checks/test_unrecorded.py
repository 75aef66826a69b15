"""The webhook as a monitored entity: a change Argo CD made with no intent on record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.checks.helpers import LATE, SYNC, application, evidence, intent, only, run
from webhooks.checks import unrecorded

CHECK = "unrecorded-change"
CHART_VALUES = Path(__file__).resolve().parents[2] / "charts" / "truthgate" / "values.yaml"


def _res(kind: str, name: str, message: str, group: str = "apps") -> dict[str, Any]:
    return {
        "group": group,
        "version": "v1",
        "kind": kind,
        "namespace": "shop",
        "name": name,
        "status": "Synced",
        "message": message,
        "syncPhase": "Sync",
    }


def _intent(
    kind: str, name: str, group: str = "apps", at: str = "2026-11-27T10:00:02Z"
) -> dict[str, Any]:
    return intent(kind, name, group=group, when=at, uid=f"uid-{name}")


RESOURCES = [
    _res("Deployment", "web", "deployment.apps/web configured"),
    _res("ConfigMap", "web-config", "configmap/web-config created", group=""),
    _res("Service", "web", "service/web unchanged", group=""),
    _res("Rollout", "canary", "rollout.argoproj.io/canary configured", group="argoproj.io"),
]


def _audit(intents: list[dict[str, Any]] | None, **kw: Any) -> Any:
    sections: dict[str, Any] = {"trigger": "audit"}
    if intents is not None:
        sections["intents"] = intents
    return evidence(app=application(resources=RESOURCES), now=LATE, **(sections | kw))


def test_configured_and_created_objects_without_an_intent_are_unrecorded() -> None:
    findings = only(run(unrecorded.check, _audit([])), CHECK)
    assert [f["resource"]["name"] for f in findings if f["resource"]] == ["web", "web-config"]
    web = findings[0]
    assert web["severity"] == "warning"
    assert "Argo CD configured it at abc1234" in web["message"]
    assert "no UPDATE intent" in web["message"]


def test_an_intent_in_the_sync_window_is_enough() -> None:
    intents = [_intent("Deployment", "web"), _intent("ConfigMap", "web-config", group="")]
    assert only(run(unrecorded.check, _audit(intents)), CHECK) == []


def test_an_intent_from_another_time_does_not_count() -> None:
    old = [_intent("Deployment", "web", at="2026-11-26T10:00:00Z")]
    findings = only(run(unrecorded.check, _audit(old)), CHECK)
    assert "web" in [f["resource"]["name"] for f in findings if f["resource"]]


def test_kinds_the_webhook_does_not_record_are_left_alone_until_the_ledger_shows_them() -> None:
    names = [f["resource"]["name"] for f in run(unrecorded.check, _audit([])) if f["resource"]]
    assert "canary" not in names
    seen = [_intent("Rollout", "other", group="argoproj.io")]
    names = [f["resource"]["name"] for f in run(unrecorded.check, _audit(seen)) if f["resource"]]
    assert "canary" in names


def test_without_a_ledger_or_at_sync_time_nothing_is_said() -> None:
    assert run(unrecorded.check, _audit(None)) == []
    sync = evidence(app=application(resources=RESOURCES), now=LATE, intents=[])
    assert run(unrecorded.check, sync) == []


def test_recorded_kinds_follow_the_charts_default_webhook_rules() -> None:
    values = yaml.safe_load(CHART_VALUES.read_text())

    def plural(kind: str) -> str:
        k = kind.lower()
        return k[:-1] + "ies" if k.endswith("y") else k + "es" if k.endswith("s") else k + "s"

    chart = {
        (group, resource)
        for rule in values["webhook"]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert {(g, plural(k)) for g, k in unrecorded.RECORDED_KINDS} == chart


def test_sync_time_is_read_from_the_application() -> None:
    ev = _audit([])
    assert ev["application"]["status"]["operationState"]["startedAt"] == SYNC
