"""Enforcement configuration: the shipped file, overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admission.conftest import POLICIES
from webhooks.admission.config import ARGOCD_CONTROLLER, AdmissionConfig, load_config
from webhooks.errors import BadRequestError
from webhooks.policy.engine import EnforcementAction
from webhooks.policy.regorus_engine import RegorusEngine


def test_shipped_file_denies_with_every_shipped_policy_listed(
    shipped_engine: RegorusEngine,
) -> None:
    config = load_config(POLICIES / "enforcement.yaml")
    assert config.default_action is EnforcementAction.DENY
    assert config.failure_mode == "fail-open"
    assert config.argocd_usernames == frozenset({ARGOCD_CONTROLLER})
    # A typo in a package name would silently fall back to the default: keep the file honest.
    assert set(config.actions) == {m.package for m in shipped_engine.policies()}


def test_defaults_without_a_file() -> None:
    config = load_config()
    assert config == AdmissionConfig()
    assert config.action_for("anything") is EnforcementAction.DENY


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "enforcement.yaml"
    path.write_text("defaultAction: warn\npolicies:\n  truthgate.admission.a: deny\n")
    config = load_config(
        path,
        env={
            "TRUTHGATE_FAILURE_MODE": "fail-closed",
            "TRUTHGATE_POLICY_ACTIONS": (
                "truthgate.admission.a=dryrun, data.truthgate.admission.b=warn"
            ),
            "TRUTHGATE_ARGOCD_USERNAMES": (
                "system:serviceaccount:gitops:argocd-application-controller"
            ),
        },
    )
    assert config.failure_mode == "fail-closed"
    assert config.action_for("truthgate.admission.a") is EnforcementAction.DRYRUN
    assert config.action_for("truthgate.admission.b") is EnforcementAction.WARN
    assert config.action_for("truthgate.admission.c") is EnforcementAction.WARN
    assert config.argocd_usernames == frozenset(
        {"system:serviceaccount:gitops:argocd-application-controller"}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("defaultAction: block\n", "enforcement action must be deny, warn or dryrun, got 'block'"),
        ("failureMode: open\n", "failureMode must be fail-open or fail-closed, got 'open'"),
        ("policy:\n  a: warn\n", "unknown key(s) policy"),
        ("policies:\n  a: ignore\n", "policies.a: enforcement action must be"),
        ("policies: [a]\n", "policies must map package names"),
        ("argocdUsernames: admin\n", "argocdUsernames must be a list"),
        ("kind: Config\n", "kind must be AdmissionConfig"),
        ("apiVersion: v1\n", "apiVersion must be truthgate.dev/v1alpha1, got 'v1'"),
        ("policies:\n  '': warn\n", "policies keys must be package names"),
        ("argocdUsernames: ['']\n", "argocdUsernames must be a list of usernames"),
        ("- a\n", "must be a YAML mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_files_are_rejected_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "enforcement.yaml"
    path.write_text(text)
    with pytest.raises(BadRequestError) as err:
        load_config(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_bad_env_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="cannot read enforcement config"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(BadRequestError, match="TRUTHGATE_POLICY_ACTIONS: expected package=action"):
        load_config(env={"TRUTHGATE_POLICY_ACTIONS": "warn"})
    with pytest.raises(BadRequestError, match="TRUTHGATE_DEFAULT_ACTION"):
        load_config(env={"TRUTHGATE_DEFAULT_ACTION": "maybe"})
