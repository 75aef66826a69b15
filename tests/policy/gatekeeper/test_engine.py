"""Constraints evaluated as Gatekeeper would: match, parameters, actions, message format."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.policy.gatekeeper.conftest import POLICIES, deployment, request
from webhooks.admission.config import AdmissionConfig
from webhooks.admission.decide import decide
from webhooks.errors import PolicyError
from webhooks.policy.engine import EnforcementAction
from webhooks.policy.factory import open_engine
from webhooks.policy.gatekeeper.engine import GatekeeperEngine
from webhooks.policy.gatekeeper.namespaces import NamespaceLabels

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> GatekeeperEngine:
    return GatekeeperEngine(POLICIES)


def by_id(engine: GatekeeperEngine, obj: dict[str, Any], op: str = "CREATE") -> dict[str, Any]:
    return {o.package: o for o in engine.evaluate(obj["kind"], {"request": request(obj, op)})}


def test_every_constraint_is_listed_as_a_policy_with_its_kinds(engine: GatekeeperEngine) -> None:
    metas = {m.package: m for m in engine.policies()}
    assert set(metas) == {
        "K8sRequiredLabels/must-have-owner",
        "K8sAllowedRepos/repos-from-registry",
        "K8sContainerLimits/memory-limits",
    }
    assert metas["K8sAllowedRepos/repos-from-registry"].kinds == {"Pod", "Deployment"}


def test_a_compliant_deployment_has_no_violations(engine: GatekeeperEngine) -> None:
    outcomes = by_id(engine, deployment())
    assert set(outcomes) == {
        "K8sRequiredLabels/must-have-owner",
        "K8sAllowedRepos/repos-from-registry",
        "K8sContainerLimits/memory-limits",
    }
    assert all(o.denials == () for o in outcomes.values())


def test_violations_carry_the_constraint_name_and_its_action(engine: GatekeeperEngine) -> None:
    bad = deployment(labels={}, image="docker.io/web:1", memory=None)
    outcomes = by_id(engine, bad)
    labels = outcomes["K8sRequiredLabels/must-have-owner"]
    assert labels.denials == ('[must-have-owner] you must provide labels: ["owner"]',)
    assert labels.action is EnforcementAction.DENY
    repos = outcomes["K8sAllowedRepos/repos-from-registry"]
    assert repos.action is EnforcementAction.WARN
    assert repos.denials[0].startswith("[repos-from-registry] container <web> has an invalid")
    limits = outcomes["K8sContainerLimits/memory-limits"]
    assert limits.denials == ("[memory-limits] container <web> has no memory limit",)
    assert limits.action is EnforcementAction.DRYRUN


def test_decide_denies_warns_and_records_dry_runs_per_constraint(engine: GatekeeperEngine) -> None:
    managed = {"owner": "Shop", "app.kubernetes.io/instance": "shop-web"}
    bad = deployment(labels=managed, image="docker.io/web:1", memory=None)
    decision = decide(request(bad), engine, AdmissionConfig(), NOW)
    assert not decision.allowed and decision.code == 403
    assert decision.message == (
        "[must-have-owner] label <owner: Shop> does not satisfy allowed regex: ^[a-z]+\\.team$"
    )
    assert len(decision.warnings) == 1
    assert decision.warnings[0].startswith("[repos-from-registry] container <web>")
    assert decision.dryrun == ("[memory-limits] container <web> has no memory limit",)
    assert decision.intent is not None  # recorded in the ledger like truthgate's own policies
    recorded = decision.intent["decision"]
    assert recorded["denials"] == [decision.message]
    assert recorded["warnings"] == list(decision.warnings)
    assert recorded.get("dryrun") == list(decision.dryrun)


def test_the_enforcement_config_overrides_a_constraints_action(engine: GatekeeperEngine) -> None:
    config = AdmissionConfig(actions={"K8sRequiredLabels/must-have-owner": EnforcementAction.WARN})
    decision = decide(request(deployment(labels={})), engine, config, NOW)
    assert decision.allowed
    assert decision.warnings == ('[must-have-owner] you must provide labels: ["owner"]',)


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "cert-manager-system"])
def test_excluded_namespaces_match_prefix_and_suffix_globs(
    engine: GatekeeperEngine, namespace: str
) -> None:
    outcomes = by_id(engine, deployment(namespace=namespace, labels={}))
    assert "K8sRequiredLabels/must-have-owner" not in outcomes
    assert "K8sAllowedRepos/repos-from-registry" in outcomes


def test_namespaces_and_label_selectors_limit_a_constraint(engine: GatekeeperEngine) -> None:
    outcomes = by_id(engine, deployment(namespace="web", labels={"owner": "a.team"}))
    assert "K8sContainerLimits/memory-limits" not in outcomes  # namespaces: [shop]
    experimental = deployment(labels={"owner": "a.team", "tier": "experimental"})
    assert "K8sAllowedRepos/repos-from-registry" not in by_id(engine, experimental)


def test_kinds_route_by_group_and_kind(engine: GatekeeperEngine) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"containers": [{"name": "c", "image": "quay.io/c"}]},
    }
    outcomes = by_id(engine, pod)
    assert set(outcomes) == {"K8sAllowedRepos/repos-from-registry"}
    assert outcomes["K8sAllowedRepos/repos-from-registry"].denials
    assert (
        engine.evaluate(
            "ConfigMap",
            {
                "request": request(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "c", "namespace": "shop"},
                    }
                )
            },
        )
        == []
    )


def test_delete_reviews_see_the_deleted_object(engine: GatekeeperEngine) -> None:
    outcomes = by_id(engine, deployment(labels={}), "DELETE")
    assert outcomes["K8sRequiredLabels/must-have-owner"].denials


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def test_parameters_are_validated_against_the_template_schema(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "bad.yaml").write_text(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\n"
        "kind: K8sAllowedRepos\n"
        "metadata: {name: wrong}\n"
        "spec: {parameters: {repos: registry.example.com}}\n"
    )
    with pytest.raises(
        PolicyError, match=r"bad\.yaml: K8sAllowedRepos wrong: spec\.parameters\.repos"
    ):
        GatekeeperEngine(policies)


def test_a_constraint_without_its_template_is_an_error(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "orphan.yaml").write_text(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sNoSuch\nmetadata: {name: x}\n"
    )
    with pytest.raises(PolicyError, match="no ConstraintTemplate defines kind 'K8sNoSuch'"):
        GatekeeperEngine(policies)


def test_broken_rego_names_the_template_and_reload_keeps_the_old_set(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    engine = GatekeeperEngine(policies)
    path = policies / "containerlimits-template.yaml"
    path.write_text(path.read_text().replace("not container.resources", "not container.("))
    with pytest.raises(PolicyError, match=r"containerlimits-template\.yaml#K8sContainerLimits"):
        engine.reload()
    assert by_id(engine, deployment(memory=None))["K8sContainerLimits/memory-limits"].denials


def test_scoped_actions_pick_the_webhooks_enforcement_point(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "scoped.yaml").write_text(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\n"
        "kind: K8sContainerLimits\n"
        "metadata: {name: scoped-limits}\n"
        "spec:\n"
        "  enforcementAction: scoped\n"
        "  scopedEnforcementActions:\n"
        "    - action: warn\n"
        "      enforcementPoints: [{name: validation.gatekeeper.sh}]\n"
        "    - action: deny\n"
        "      enforcementPoints: [{name: audit.gatekeeper.sh}]\n"
        "---\n"
        "apiVersion: constraints.gatekeeper.sh/v1beta1\n"
        "kind: K8sContainerLimits\n"
        "metadata: {name: audit-only}\n"
        "spec:\n"
        "  enforcementAction: scoped\n"
        "  scopedEnforcementActions:\n"
        "    - action: deny\n"
        "      enforcementPoints: [{name: audit.gatekeeper.sh}]\n"
    )
    outcomes = by_id(GatekeeperEngine(policies), deployment(memory=None))
    assert outcomes["K8sContainerLimits/scoped-limits"].action is EnforcementAction.WARN
    assert "K8sContainerLimits/audit-only" not in outcomes


def test_open_engine_adds_gatekeeper_to_truthgates_own_policies(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "own.rego").write_text(
        "package truthgate.admission.own\nimport rego.v1\n"
        'deny contains "own says no" if input.request.namespace == "shop"\n'
    )
    engine = open_engine("regorus", policies)
    names = {m.package for m in engine.policies()}
    assert {"truthgate.admission.own", "K8sRequiredLabels/must-have-owner"} <= names
    decision = decide(request(deployment(labels={})), engine, AdmissionConfig(), NOW)
    assert decision.denials == (
        '[must-have-owner] you must provide labels: ["owner"]',
        "own says no",
    )


def test_namespace_reviews_teach_the_labels_a_namespace_selector_needs(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "prod.yaml").write_text(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\n"
        "kind: K8sContainerLimits\n"
        "metadata: {name: prod-limits}\n"
        "spec:\n"
        "  match:\n"
        "    kinds: [{apiGroups: [apps], kinds: [Deployment]}]\n"
        "    namespaceSelector: {matchLabels: {env: prod}}\n"
    )
    fetched: list[str] = []

    def fetch(name: str) -> dict[str, str] | None:
        fetched.append(name)
        return {"env": "dev"}

    engine = GatekeeperEngine(policies, NamespaceLabels(fetch))
    namespace: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"env": "prod"}},
    }
    assert engine.evaluate("Namespace", {"request": request(namespace)}) == []
    outcomes = by_id(engine, deployment(memory=None))
    assert outcomes["K8sContainerLimits/prod-limits"].denials  # labels from the review
    assert fetched == []
    assert "K8sContainerLimits/prod-limits" not in by_id(engine, deployment(namespace="web"))
    assert fetched == ["web"]  # unknown namespace: one lookup


def test_a_template_without_a_violation_rule_is_refused(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    path = policies / "containerlimits-template.yaml"
    path.write_text(path.read_text().replace("violation[", "violations["))
    with pytest.raises(PolicyError, match="k8scontainerlimits defines no violation rule"):
        GatekeeperEngine(policies)


BROKEN_TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sbroken}
spec:
  crd: {spec: {names: {kind: K8sBroken}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sbroken

        violation[{"msg": msg}] {
          msg := sprintf("value %v", [pick(input.review.object)])
        }

        pick(obj) = 1 { obj.kind }
        pick(obj) = 2 { obj.metadata }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sBroken
metadata: {name: broken}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sContainerLimits
metadata: {name: prod-limits}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
    namespaceSelector: {matchLabels: {env: prod}}
"""


def test_a_failing_constraint_cancels_no_other_constraints_denial(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "broken.yaml").write_text(BROKEN_TEMPLATE)
    engine = GatekeeperEngine(policies)  # no cluster access: namespace labels unknown
    outcomes = by_id(engine, deployment(labels={}))
    assert "functions must not produce multiple outputs" in str(outcomes["K8sBroken/broken"].error)
    assert "no cluster access" in str(outcomes["K8sContainerLimits/prod-limits"].error)
    assert outcomes["K8sRequiredLabels/must-have-owner"].denials
    decision = decide(request(deployment(labels={})), engine, AdmissionConfig(), NOW)
    assert not decision.allowed
    assert decision.message == '[must-have-owner] you must provide labels: ["owner"]'
    assert decision.warnings[-1].startswith(
        "truthgate: policy evaluation failed, ignored (fail-open): K8sBroken/broken: "
    )
