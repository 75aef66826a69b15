"""What admission does with policy outcomes, kept out of Rego so it changes without editing it.

Each policy package gets an enforcement action (``deny`` rejects, ``warn`` turns its denials
into warnings, ``dryrun`` records them in the intent only); unlisted packages get the default.
``failureMode`` says what a policy *error* does (``fail-closed`` denies, ``fail-open`` admits
with a warning). ``argocdUsernames`` says which requesters are Argo CD itself.

The file's shape is ``enforcement.schema.json`` beside this module.
Sources, later ones winning: built-in defaults, a YAML file (``policies/admission/
enforcement.yaml`` ships with the defaults; ``truthgate serve --enforcement FILE``), then
``TRUTHGATE_*`` environment variables (see ``ENV_*`` below and docs/policies.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from webhooks.common.schema import first_error, generic_path, package_schema
from webhooks.errors import BadRequestError, short
from webhooks.policy.engine import EnforcementAction

FailureMode = Literal["fail-open", "fail-closed"]
FAILURE_MODES: tuple[FailureMode, ...] = ("fail-open", "fail-closed")

ARGOCD_CONTROLLER = "system:serviceaccount:argocd:argocd-application-controller"

ENV_DEFAULT_ACTION = "TRUTHGATE_DEFAULT_ACTION"  # deny | warn | dryrun
ENV_FAILURE_MODE = "TRUTHGATE_FAILURE_MODE"  # fail-open | fail-closed
ENV_ARGOCD_USERNAMES = "TRUTHGATE_ARGOCD_USERNAMES"  # comma-separated, replaces the list
ENV_POLICY_ACTIONS = "TRUTHGATE_POLICY_ACTIONS"  # "pkg=warn,pkg2=dryrun", merged over the file

#: The file's shape; actions and the failure mode are read (case-insensitively) here.
SCHEMA = package_schema("webhooks.admission", "enforcement.schema.json")


@dataclass(frozen=True)
class AdmissionConfig:
    """Enforcement actions per policy package, failure mode, and who Argo CD is."""

    actions: Mapping[str, EnforcementAction] = field(default_factory=dict)
    default_action: EnforcementAction = EnforcementAction.DENY
    # When truthgate cannot judge (a policy errors, the ledger is down) it admits with a warning
    # and counts it: it must never be the reason a cluster stops. fail-closed is one setting away.
    failure_mode: FailureMode = "fail-open"
    argocd_usernames: frozenset[str] = frozenset({ARGOCD_CONTROLLER})

    def action_for(self, package: str, own: EnforcementAction | None = None) -> EnforcementAction:
        """The configured action; else the policy's own (a Gatekeeper constraint's); else
        the default."""
        return self.actions.get(package, own or self.default_action)


def _action(value: object, where: str) -> EnforcementAction:
    try:
        return EnforcementAction(str(value).strip().lower())
    except ValueError:
        raise BadRequestError(
            f"{where}: enforcement action must be deny, warn or dryrun, got {short(value, 40)!r}"
        ) from None


def _failure_mode(value: object, where: str) -> FailureMode:
    text = str(value).strip().lower()
    if text == "fail-open":
        return "fail-open"
    if text == "fail-closed":
        return "fail-closed"
    raise BadRequestError(
        f"{where}: failureMode must be fail-open or fail-closed, got {short(value, 40)!r}"
    )


def _shape_error(data: Mapping[str, Any], source: str) -> None:
    """Raise BadRequestError, naming the field, if ``data`` does not fit the schema."""
    error = first_error(data, SCHEMA)
    if error is None:
        return
    parts = list(error.absolute_path)
    where = generic_path(parts)
    kind = str(error.validator)
    instance: Any = error.instance
    if kind == "additionalProperties":
        unknown = sorted(str(k) for k in instance if k not in SCHEMA["properties"])
        raise BadRequestError(
            f"{source}: unknown key(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(sorted(SCHEMA['properties']))}"
        )
    if kind == "const":
        raise BadRequestError(
            f"{source}: {where} must be {error.validator_value}, got {short(instance, 60)!r}"
        )
    if where == "defaultAction" or where.startswith("policies."):
        _action(instance, source if where == "defaultAction" else f"{source}: {where}")
    if where == "failureMode":
        _failure_mode(instance, source)
    if where.startswith("argocdUsernames"):
        raise BadRequestError(f"{source}: argocdUsernames must be a list of usernames")
    if where == "policies" and "propertyNames" in error.schema_path:
        raise BadRequestError(f"{source}: policies keys must be package names")
    if where == "policies":
        raise BadRequestError(f"{source}: policies must map package names to deny|warn|dryrun")
    raise BadRequestError(f"{source}: {where or 'the file'} does not fit the schema ({kind})")


def config_from_mapping(data: Mapping[str, Any], source: str = "config") -> AdmissionConfig:
    """Build a config from the YAML document shape; unknown keys are errors (typos bite)."""
    _shape_error(data, source)
    config = AdmissionConfig()
    if "defaultAction" in data:
        config = replace(config, default_action=_action(data["defaultAction"], source))
    if "failureMode" in data:
        config = replace(config, failure_mode=_failure_mode(data["failureMode"], source))
    if "argocdUsernames" in data:
        config = replace(config, argocd_usernames=frozenset(data["argocdUsernames"]))
    actions = {
        package.removeprefix("data."): _action(action, f"{source}: policies.{package}")
        for package, action in (data.get("policies") or {}).items()
    }
    return replace(config, actions=actions)


def config_from_env(base: AdmissionConfig, env: Mapping[str, str]) -> AdmissionConfig:
    """Overlay ``TRUTHGATE_*`` variables on ``base``."""
    config = base
    if env.get(ENV_DEFAULT_ACTION):
        action = _action(env[ENV_DEFAULT_ACTION], ENV_DEFAULT_ACTION)
        config = replace(config, default_action=action)
    if env.get(ENV_FAILURE_MODE):
        config = replace(
            config, failure_mode=_failure_mode(env[ENV_FAILURE_MODE], ENV_FAILURE_MODE)
        )
    if env.get(ENV_ARGOCD_USERNAMES):
        names = frozenset(n.strip() for n in env[ENV_ARGOCD_USERNAMES].split(",") if n.strip())
        if not names:
            raise BadRequestError(f"{ENV_ARGOCD_USERNAMES}: no username given")
        config = replace(config, argocd_usernames=names)
    if env.get(ENV_POLICY_ACTIONS):
        actions = dict(config.actions)
        for item in env[ENV_POLICY_ACTIONS].split(","):
            if not item.strip():
                continue
            package, sep, wanted = item.partition("=")
            if not sep or not package.strip():
                raise BadRequestError(
                    f"{ENV_POLICY_ACTIONS}: expected package=action pairs, got {short(item, 60)!r}"
                )
            actions[package.strip().removeprefix("data.")] = _action(wanted, ENV_POLICY_ACTIONS)
        config = replace(config, actions=actions)
    return config


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> AdmissionConfig:
    """Defaults, then the YAML file at ``path`` (if any), then ``env`` (if given)."""
    config = AdmissionConfig()
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise BadRequestError(f"cannot read enforcement config {path}: {e.strerror}") from e
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise BadRequestError(f"{path}: not valid YAML: {short(e, 200)}") from e
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise BadRequestError(f"{path}: must be a YAML mapping")
        config = config_from_mapping(data, str(path))
    if env is not None:
        config = config_from_env(config, env)
    return config
