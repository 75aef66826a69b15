"""The admission decision over the shipped policies: who may change what, and what is recorded."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.admission.conftest import POLICIES
from tests.admission.reviews import ALICE, ARGOCD, configmap, deployment, review
from webhooks.admission.config import AdmissionConfig, load_config
from webhooks.admission.decide import decide
from webhooks.admission.review import parse_review
from webhooks.errors import PolicyError
from webhooks.policy.engine import EnforcementAction, PolicyMeta, PolicyOutcome
from webhooks.policy.regorus_engine import RegorusEngine

NOW = datetime(2026, 11, 27, 10, 0, 3, tzinfo=UTC)
CONFIG = load_config(POLICIES / "enforcement.yaml")
NEW_IMAGE = "registry.example.com/shop/web:1.5.0"


def image_update(username: str, **kw: Any) -> dict[str, Any]:
    return review("UPDATE", deployment(NEW_IMAGE, **kw), deployment(**kw), username=username)


def test_argocd_sync_is_allowed_and_recorded(shipped_engine: RegorusEngine) -> None:
    d = decide(parse_review(image_update(ARGOCD)), shipped_engine, CONFIG, NOW)
    assert d.allowed and d.message is None and d.warnings == ()
    assert d.review()["response"] == {"uid": d.uid, "allowed": True}
    assert d.intent == {
        "uid": "7b0c2a4e-1f0d-4f5e-9a55-3c2d1e0f9a8b",
        "time": "2026-11-27T10:00:03Z",
        "app": "shop-web",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "namespace": "shop",
        "name": "web",
        "operation": "UPDATE",
        "actor": {
            "username": ARGOCD,
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:argocd",
                "system:authenticated",
            ],
            "class": "argocd",
        },
        "patch": [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": NEW_IMAGE}
        ],
        "decision": {"allowed": True, "denials": [], "warnings": []},
        "dryRun": False,
        "breakGlass": None,
    }


def test_the_same_update_by_a_person_is_denied_with_the_way_out(
    shipped_engine: RegorusEngine,
) -> None:
    d = decide(parse_review(image_update(ALICE)), shipped_engine, CONFIG, NOW)
    assert not d.allowed
    response = d.review()["response"]
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert "Deployment shop/web is managed by Argo CD app shop-web" in message
    assert "truthgate.dev/break-glass=<ticket>" in message
    # Denied requests on managed objects are recorded too: who tried what.
    assert d.intent is not None
    assert d.intent["actor"]["class"] == "human"
    assert d.intent["decision"]["allowed"] is False
    assert d.intent["decision"]["denials"] == list(d.denials)


def test_break_glass_admits_with_a_warning_and_records_the_ticket(
    shipped_engine: RegorusEngine,
) -> None:
    doc = image_update(ALICE, annotations={"truthgate.dev/break-glass": "INC-4711"})
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert d.allowed
    assert any("break-glass INC-4711" in w for w in d.warnings)
    assert d.review()["response"]["warnings"] == list(d.warnings)
    assert d.intent is not None and d.intent["breakGlass"] == "INC-4711"
    assert d.intent["decision"]["warnings"] == list(d.warnings)


def test_dry_run_requests_are_decided_but_not_recorded(shipped_engine: RegorusEngine) -> None:
    doc = review("UPDATE", deployment(NEW_IMAGE), deployment(), username=ALICE, dry_run=True)
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert not d.allowed  # kubectl --dry-run=server shows the same answer as the real thing
    assert d.intent is None


def test_unmanaged_objects_are_not_recorded(shipped_engine: RegorusEngine) -> None:
    doc = review("UPDATE", deployment(NEW_IMAGE, app=None), deployment(app=None), username=ALICE)
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert d.allowed and d.intent is None


def test_mutable_image_from_git_is_denied_naming_container_and_fix(
    shipped_engine: RegorusEngine,
) -> None:
    doc = review("UPDATE", deployment("nginx:latest"), deployment(), username=ARGOCD)
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert not d.allowed
    assert d.denials == (
        "Deployment shop/web: container web image nginx:latest uses the mutable tag latest; "
        "pin a version tag or an @sha256 digest",
    )


def test_enforcement_config_moves_a_policy_to_warn(shipped_engine: RegorusEngine) -> None:
    config = replace(
        CONFIG,
        actions={**CONFIG.actions, "truthgate.admission.out_of_band_edits": EnforcementAction.WARN},
    )
    d = decide(parse_review(image_update(ALICE)), shipped_engine, config, NOW)
    assert d.allowed
    assert any("is managed by Argo CD app shop-web" in w for w in d.warnings)
    outcome = {o.package: o for o in d.outcomes}["truthgate.admission.out_of_band_edits"]
    assert outcome.action is EnforcementAction.WARN and outcome.denials


def test_dryrun_policies_are_recorded_but_never_shown(shipped_engine: RegorusEngine) -> None:
    config = replace(
        CONFIG,
        actions={
            **CONFIG.actions,
            "truthgate.admission.out_of_band_edits": EnforcementAction.DRYRUN,
        },
    )
    d = decide(parse_review(image_update(ALICE)), shipped_engine, config, NOW)
    assert d.allowed and d.warnings == ()
    assert d.review()["response"] == {"uid": d.uid, "allowed": True}
    assert d.intent is not None
    assert any("is managed by Argo CD" in m for m in d.intent["decision"]["dryrun"])


class _Failing:
    """An engine whose evaluation fails, as a broken policy or an unreachable OPA would."""

    def policies(self) -> Sequence[PolicyMeta]:
        return []

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        raise PolicyError("truthgate.admission.x.deny: `add` expects numeric argument")

    def reload(self) -> None:
        pass


def test_policy_error_fail_closed_denies_with_500_and_records_it() -> None:
    config = replace(CONFIG, failure_mode="fail-closed")
    d = decide(parse_review(image_update(ARGOCD)), _Failing(), config, NOW)
    assert not d.allowed and d.code == 500
    assert d.policy_error and d.failure_mode == "fail-closed"
    assert "policy evaluation failed, denied (fail-closed)" in (d.message or "")
    assert d.intent is not None and "fail-closed" in d.intent["decision"]["error"]


def test_policy_error_fail_open_admits_with_a_warning() -> None:
    config = replace(CONFIG, failure_mode="fail-open")
    d = decide(parse_review(image_update(ARGOCD)), _Failing(), config, NOW)
    assert d.allowed and d.failure_mode == "fail-open"
    assert any("admitted (fail-open)" in w for w in d.warnings)
    assert d.intent is not None and d.intent["decision"]["allowed"] is True


class _OneBroken:
    """Two policies: one fails on this input, the other denies it."""

    def policies(self) -> Sequence[PolicyMeta]:
        return []

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        return [
            PolicyOutcome("truthgate.admission.broken", error="broken.rego:3: type mismatch"),
            PolicyOutcome("truthgate.admission.out_of_band_edits", ("changed by a person",)),
        ]

    def reload(self) -> None:
        pass


@pytest.mark.parametrize("mode", ["fail-open", "fail-closed"])
def test_one_policys_error_does_not_cancel_another_policys_denial(mode: str) -> None:
    config = replace(CONFIG, failure_mode=mode)  # type: ignore[arg-type]
    d = decide(parse_review(image_update(ALICE)), _OneBroken(), config, NOW)
    assert not d.allowed
    assert "changed by a person" in (d.message or "")
    assert d.policy_error is not None and "broken.rego:3" in d.policy_error
    assert [o.package for o in d.outcomes] == ["truthgate.admission.out_of_band_edits"]
    if mode == "fail-open":
        assert d.code == 403
        assert any("policy evaluation failed, ignored (fail-open)" in w for w in d.warnings)
    else:
        assert d.code == 500
        assert "denied (fail-closed): broken.rego:3" in (d.message or "")
    assert d.intent is not None and d.intent["decision"]["allowed"] is False


def test_a_broken_policy_beside_the_shipped_ones_keeps_their_denials(tmp_path: Path) -> None:
    for source in POLICIES.rglob("*.rego"):
        target = tmp_path / source.relative_to(POLICIES)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    (tmp_path / "broken.rego").write_text(
        "package truthgate.admission.broken\n"
        'deny contains msg if {\n  x := input.request.name + 1\n  msg := sprintf("%v", [x])\n}\n'
    )
    config = replace(CONFIG, failure_mode="fail-open")
    d = decide(parse_review(image_update(ALICE)), RegorusEngine(tmp_path), config, NOW)
    assert not d.allowed  # a person's edit of a managed Deployment, denied as ever
    assert "is managed by Argo CD app shop-web" in (d.message or "")
    assert d.policy_error is not None and "broken.rego:3" in d.policy_error


def test_a_real_runtime_error_in_rego_is_a_policy_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text(
        "package truthgate.admission.broken\n"
        'deny contains msg if {\n  x := input.request.name + 1\n  msg := sprintf("%v", [x])\n}\n'
    )
    engine = RegorusEngine(tmp_path)
    for mode, allowed in (("fail-open", True), ("fail-closed", False)):
        config = replace(AdmissionConfig(), failure_mode=mode)  # type: ignore[arg-type]
        d = decide(parse_review(image_update(ARGOCD)), engine, config, NOW)
        assert d.allowed is allowed
        assert d.policy_error is not None and "broken.rego:3" in d.policy_error


def test_configmap_changes_reach_only_policies_for_every_kind(
    shipped_engine: RegorusEngine,
) -> None:
    doc = review("UPDATE", configmap({"a": "2"}), configmap(), username=ALICE)
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert [o.package for o in d.outcomes] == ["truthgate.admission.out_of_band_edits"]
    assert not d.allowed
    assert "ConfigMap shop/settings is managed by Argo CD app shop-web" in (d.message or "")


def test_intent_is_json_serialisable_and_has_no_chain_fields(
    shipped_engine: RegorusEngine,
) -> None:
    d = decide(parse_review(image_update(ARGOCD)), shipped_engine, CONFIG, NOW)
    assert d.intent is not None
    assert "hash" not in d.intent and "prevHash" not in d.intent
    json.dumps(d.intent)


@pytest.mark.parametrize("operation", ["CREATE", "DELETE"])
def test_argocd_creates_and_prunes_are_allowed_and_recorded(
    shipped_engine: RegorusEngine, operation: str
) -> None:
    doc = (
        review("CREATE", deployment())
        if operation == "CREATE"
        else review("DELETE", None, deployment())
    )
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert d.allowed
    assert d.intent is not None and d.intent["operation"] == operation


class _Outcomes:
    """An engine that says fixed things, to see where each message goes under each action."""

    def __init__(self, *outcomes: PolicyOutcome) -> None:
        self._outcomes = list(outcomes)

    def policies(self) -> Sequence[PolicyMeta]:
        return []

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        return self._outcomes

    def reload(self) -> None:
        pass


def test_every_message_names_its_policy_rule_action_and_effect() -> None:
    engine = _Outcomes(
        PolicyOutcome("p.enforced", denials=("d1",), warnings=("w1",)),
        PolicyOutcome("p.gentle", denials=("d2",), warnings=("w2",)),
        PolicyOutcome("p.measured", denials=("d3",), warnings=("w3",)),
    )
    config = replace(
        CONFIG,
        actions={"p.gentle": EnforcementAction.WARN, "p.measured": EnforcementAction.DRYRUN},
    )
    d = decide(parse_review(image_update(ARGOCD)), engine, config, NOW)
    said = [(m.package, m.rule, m.action, m.effect, m.text) for m in d.messages]
    assert said == [
        ("p.enforced", "deny", "deny", "denial", "d1"),
        ("p.enforced", "warn", "deny", "warning", "w1"),
        ("p.gentle", "deny", "warn", "warning", "d2"),
        ("p.gentle", "warn", "warn", "warning", "w2"),
        ("p.measured", "deny", "dryrun", "dryrun", "d3"),
        ("p.measured", "warn", "dryrun", "dryrun", "w3"),
    ]
    # The answer is made of exactly these messages, in this order.
    assert d.denials == ("d1",) and d.warnings == ("w1", "d2", "w2") and d.dryrun == ("d3", "w3")
    assert d.message == "d1"


def test_a_policy_error_is_a_message_of_truthgate_under_the_failure_mode() -> None:
    config = replace(CONFIG, failure_mode="fail-closed")
    d = decide(parse_review(image_update(ARGOCD)), _Failing(), config, NOW)
    (m,) = d.messages
    assert (m.package, m.rule, m.action, m.effect) == (None, None, "fail-closed", "denial")
    assert m.text == d.message
