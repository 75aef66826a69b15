"""Options that several commands share, defined once with their defaults and help.

- ``admission_options`` (``serve``, ``policy eval``): the policy directory, the engine and the
  enforcement settings, so ``policy eval`` answers exactly as the server would;
  ``admission_settings`` turns them into a policy directory and an ``AdmissionConfig``.
- ``cluster_options`` and ``verdict_policy_option`` (``verify``, ``audit``): how to reach the
  cluster (both open it through ``cli.verify.cluster_and_ledger``) and which verdict policy judges.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from webhooks.admission.config import FAILURE_MODES, AdmissionConfig, FailureMode, load_config
from webhooks.errors import BadRequestError
from webhooks.shipped import shipped_policy_dir

F = TypeVar("F", bound=Callable[..., object])


def _all(options: Sequence[Callable[[Any], Any]]) -> Callable[[F], F]:
    """One decorator applying ``options`` in order (as if stacked above the command)."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


_ADMISSION = (
    click.option(
        "--policies",
        "policy_dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Admission policy directory [default: ./policies/admission, else the shipped one].",
    ),
    click.option(
        "--engine",
        "engine_spec",
        default="regorus",
        show_default=True,
        envvar="TRUTHGATE_ENGINE",
        metavar="regorus|opa+http://HOST:PORT",
        help="Rego engine: embedded regorus, or an OPA server [env TRUTHGATE_ENGINE].",
    ),
    click.option(
        "--enforcement",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Enforcement config (deny/warn/dryrun per policy) [default: "
        "enforcement.yaml in the policy directory].",
    ),
    click.option(
        "--failure-mode",
        type=click.Choice(FAILURE_MODES),
        help="What a policy error (and, in serve, an unreachable ledger) does [default: the "
        "enforcement config's, overridden by $TRUTHGATE_FAILURE_MODE; fail-open].",
    ),
)


#: --policies, --engine, --enforcement and --failure-mode.
admission_options = _all(_ADMISSION)


def default_policy_dir(cwd: Path | None = None) -> Path:
    """``./policies/admission`` if present, else the policies shipped with this installation."""
    local = (cwd or Path.cwd()) / "policies" / "admission"
    if local.is_dir():
        return local
    shipped = shipped_policy_dir("admission")
    if shipped is not None:
        return shipped
    raise BadRequestError(
        "no admission policy directory: ./policies/admission does not exist and none ships with "
        "this installation; pass --policies DIR"
    )


def admission_settings(
    policy_dir: Path | None, enforcement: Path | None, failure_mode: FailureMode | None
) -> tuple[Path, AdmissionConfig]:
    """The policy directory and the config, from the options.

    Built-in defaults < the enforcement file < TRUTHGATE_* variables < --failure-mode.
    """
    policy_dir = policy_dir or default_policy_dir()
    if not policy_dir.is_dir():
        raise BadRequestError(f"policy directory {policy_dir} does not exist")
    if enforcement is None and (policy_dir / "enforcement.yaml").is_file():
        enforcement = policy_dir / "enforcement.yaml"
    config = load_config(enforcement, os.environ)
    config = config if failure_mode is None else replace(config, failure_mode=failure_mode)
    return policy_dir, config


_CLUSTER = (
    click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="kubeconfig file (default: in-cluster when in a Pod, else ~/.kube/config).",
    ),
    click.option("--context", metavar="NAME", help="kubeconfig context."),
    click.option("--in-cluster", is_flag=True, help="Use the Pod's ServiceAccount."),
    click.option(
        "--server", metavar="URL", help="Kubernetes API URL, without credentials (tests)."
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=1, max=300),
        default=10,
        show_default=True,
        metavar="SECONDS",
        help="Per Kubernetes API request.",
    ),
)

verdict_policy_option = click.option(
    "--verdict-policy",
    envvar="TRUTHGATE_VERDICT_POLICY",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Directory with your own Rego package truthgate.verdict (default: the "
    "shipped policies/verdict). [env TRUTHGATE_VERDICT_POLICY]",
)

#: --kubeconfig, --context, --in-cluster, --server and --timeout.
cluster_options = _all(_CLUSTER)
