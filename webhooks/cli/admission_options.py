"""The admission options ``serve`` and ``policy eval`` share, defined once.

Both commands load the same thing: a policy directory, an engine, and the enforcement settings
(the file, ``TRUTHGATE_*`` variables, ``--failure-mode``), so ``policy eval`` answers exactly as
the server would. The flags, their defaults and help, and the code that turns them into a
policy directory and an ``AdmissionConfig`` live here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import click

from webhooks.admission.config import FAILURE_MODES, AdmissionConfig, FailureMode, load_config
from webhooks.errors import BadRequestError
from webhooks.shipped import shipped_policy_dir

F = TypeVar("F", bound=Callable[..., object])

_OPTIONS = (
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


def admission_options(command: F) -> F:
    """Add --policies, --engine, --enforcement and --failure-mode to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


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
