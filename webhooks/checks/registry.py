"""The checks the judge runs, in the order their findings are reported.

Each check is a pure ``(evidence, ctx) -> list[finding]`` function in a module of its own
family; a family name is the prefix of every ``check`` id it emits (``capacity/quota``), which
is what the verdict policy's ``ignoreChecks``/``warnOnly`` settings match on.
"""

from __future__ import annotations

from collections.abc import Callable

from webhooks.checks import (
    capacity,
    controllers,
    convergence,
    datalag,
    drift,
    images,
    probes,
    propagation,
    reachability,
    readiness,
    stability,
    staleness,
    unrecorded,
)
from webhooks.checks.context import CheckContext, CheckFinding
from webhooks.evidence.model import Evidence

Check = Callable[[Evidence, CheckContext], list[CheckFinding]]

CHECKS: dict[str, Check] = {
    "convergence": convergence.check,
    "readiness": readiness.check,
    "staleness": staleness.check,
    "images": images.check,
    "propagation": propagation.check,
    "reachability": reachability.check,
    "capacity": capacity.check,
    "stability": stability.check,
    "drift": drift.check,
    "probes": probes.check,
    "controller-stale": controllers.check,
    "unrecorded-change": unrecorded.check,
    "data-lag": datalag.check,
}
