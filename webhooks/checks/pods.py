"""How a Pod is doing, in a few words a finding can quote.

Shared by the convergence, capacity and stability checks so that "why is this pod not ready"
is worded once. A container waiting with a reason that starts with ``Err`` or ends with
``Error`` or ``BackOff`` (ImagePullBackOff, ErrImagePull, CrashLoopBackOff,
CreateContainerConfigError, InvalidImageName, RunContainerError…) will not recover by itself:
that is a hard failure, judged at once rather than after a grace period.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webhooks.checks import kube
from webhooks.checks.index import Event
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import KubeObject

EventsFor = Callable[[KubeObject], list[Event]]


def is_hard_waiting_reason(reason: str) -> bool:
    # ContainerCreating / PodInitializing are normal transitions, not failures.
    return (
        reason.startswith("Err")
        or reason.endswith(("Error", "BackOff"))
        or (reason == "InvalidImageName")
    )


def container_statuses(pod: KubeObject) -> Iterator[dict[str, Any]]:
    yield from kube.dicts(pod, "status", "initContainerStatuses")
    yield from kube.dicts(pod, "status", "containerStatuses")


def running(pods: Iterable[KubeObject]) -> list[KubeObject]:
    """Pods not in a terminal phase. An evicted (Failed) pod lingers until garbage-collected
    after its controller replaced it: once the replica counts are complete it says nothing."""
    return [p for p in pods if kube.get_str(p, "status", "phase") not in ("Succeeded", "Failed")]


def is_ready(pod: KubeObject) -> bool:
    return kube.condition_is(pod, "Ready", "True") is not None


def is_terminating(pod: KubeObject) -> bool:
    return kube.get(pod, "metadata", "deletionTimestamp") is not None


@dataclass(frozen=True)
class PodProblem:
    reason: str  # e.g. "CrashLoopBackOff", "Pending", "Unschedulable", "not ready"
    container: str | None
    detail: str  # the kubelet/scheduler message, possibly empty
    hard: bool  # will not recover by waiting


def problem(pod: KubeObject) -> PodProblem | None:
    """Why this pod is not serving, or None when it is Ready (or Succeeded)."""
    phase = kube.get_str(pod, "status", "phase") or ""
    if phase == "Succeeded":
        return None
    for status in container_statuses(pod):
        waiting = kube.get_dict(status, "state", "waiting")
        reason = kube.get_str(waiting, "reason") or ""
        if reason and is_hard_waiting_reason(reason):
            return PodProblem(
                reason, kube.get_str(status, "name"), kube.get_str(waiting, "message") or "", True
            )
    if phase == "Failed":
        return PodProblem(
            kube.get_str(pod, "status", "reason") or "Failed",
            None,
            kube.get_str(pod, "status", "message") or "",
            True,
        )
    if phase == "Pending" or not phase:
        unscheduled = kube.condition_is(pod, "PodScheduled", "False")
        if unscheduled is not None:
            return PodProblem(
                kube.get_str(unscheduled, "reason") or "Unschedulable",
                None,
                kube.get_str(unscheduled, "message") or "",
                False,
            )
        return PodProblem("Pending", None, "", False)
    if is_ready(pod):
        return None
    not_ready = kube.conditions(pod).get("ContainersReady") or kube.conditions(pod).get("Ready")
    return PodProblem("not ready", None, kube.get_str(not_ready, "message") or "", False)


#: Hard failures whose kubelet message only repeats the reason ("back-off 5m0s restarting
#: failed container=…"); for the others (a Secret not found, an image that does not exist) the
#: message is the cause, and the summary quotes it.
_BOILERPLATE = frozenset({"CrashLoopBackOff"})


def problem_since(pods: Iterable[KubeObject]) -> datetime | None:
    """When the oldest of these pods that is not serving was created (``creationTimestamp``,
    else ``startTime``); None when there is none, or one cannot be dated."""
    oldest: datetime | None = None
    for pod in pods:
        if is_terminating(pod) or problem(pod) is None:
            continue
        created = try_parse_time(kube.get(pod, "metadata", "creationTimestamp")) or (
            try_parse_time(kube.get(pod, "status", "startTime"))
        )
        if created is None:
            return None
        oldest = created if oldest is None else min(oldest, created)
    return oldest


#: The kubelet's pull error ends with the registry's answer ("…: not found", "…: 401
#: Unauthorized") after the runtime's wrapping ("rpc error: code = NotFound desc = failed to
#: pull and unpack image …: failed to resolve reference …").
_PULL_FAILED = re.compile(
    r'^Failed to pull image "(?P<image>[^"]+)": (?:.*: )?(?P<why>[^:]+)$', re.DOTALL
)


def pull_gist(message: str) -> str:
    """``Failed to pull image "x:1": not found`` from the kubelet's long pull error."""
    match = _PULL_FAILED.match(message.strip())
    return f'Failed to pull image "{match["image"]}": {match["why"].strip()}' if match else message


def _cause(pod: KubeObject, p: PodProblem, events_for: EventsFor | None) -> str:
    """What the pod's events say that its status does not: why the image pull failed (the
    back-off only names the image), why readiness fails (the probe's answer)."""
    if events_for is None:
        return ""
    if p.reason in ("ImagePullBackOff", "ErrImagePull"):
        reason, starts = "Failed", "Failed to pull image"
    elif p.reason == "not ready":
        reason, starts = "Unhealthy", "Readiness probe failed"
    else:
        return ""
    said = [e for e in events_for(pod) if e.reason == reason and e.message.startswith(starts)]
    return pull_gist(max(said, key=Event.sort_key).message) if said else ""


def summarize(pods: Iterable[KubeObject], events_for: EventsFor | None = None) -> tuple[str, bool]:
    """("2 CrashLoopBackOff (cache-1, cache-2), 1 Pending", any hard failure) over pods; the
    first hard failure of a reason carries its message (``1 CreateContainerConfigError (web-a):
    secret "db" not found``), or what the pod's events (``events_for``) say of it: the pull
    error behind an ImagePullBackOff, the failing readiness probe of a pod not ready."""
    counts: Counter[str] = Counter()
    names: dict[str, list[str]] = {}
    details: dict[str, str] = {}
    hard = False
    for pod in pods:
        if is_terminating(pod):
            continue
        p = problem(pod)
        if p is None:
            continue
        hard = hard or p.hard
        counts[p.reason] += 1
        names.setdefault(p.reason, []).append(kube.name(pod))
        if p.reason in details:
            continue
        detail = _cause(pod, p, events_for) or (
            pull_gist(p.detail) if p.hard and p.reason not in _BOILERPLATE else ""
        )
        if detail:
            details[p.reason] = clip(detail, 120, one_line=True)
    parts = []
    for reason, n in counts.most_common():
        listed = names[reason]
        who = f" ({', '.join(sorted(listed))})" if len(listed) <= 2 else ""
        said = f": {details[reason]}" if reason in details else ""
        parts.append(f"{n} {reason}{who}{said}")
    return ", ".join(parts), hard


def termination_text(terminated: dict[str, Any]) -> str:
    """``Error, exit 1`` for a container's ``terminated`` state."""
    reason = kube.get_str(terminated, "reason") or "terminated"
    code = kube.get_int(terminated, "exitCode")
    return f"{reason}, exit {code}" if code is not None else reason


def last_failure(pods: Iterable[KubeObject]) -> str:
    """How the latest container that failed among these pods ended, with its termination
    message (``billing-migrate-x/migrate: Error, exit 1: column "ref" already exists``); "" when
    none failed. What a failed Job's pods said is why the Job failed."""
    latest: tuple[datetime, str] | None = None
    for pod in pods:
        for status in container_statuses(pod):
            for term in (
                kube.get_dict(status, "state", "terminated"),
                kube.get_dict(status, "lastState", "terminated"),
            ):
                when = try_parse_time(term.get("finishedAt"))
                if when is None or not kube.get_int(term, "exitCode"):
                    continue
                text = f"{kube.name(pod)}/{kube.get_str(status, 'name')}: {termination_text(term)}"
                if said := kube.get_str(term, "message"):
                    text += f": {clip(said, 160, one_line=True)}"
                if latest is None or when > latest[0]:
                    latest = (when, text)
    return latest[1] if latest else ""
