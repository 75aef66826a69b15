"""Publish: turn a Verdict into TruthCheck ``.status`` and a ledger record.

The status is what Argo CD's health check reads, so it must be small (etcd caps objects near
1.5 MiB: findings are capped, most severe first), stable (re-running for the same sync rewrites
the same status; a condition keeps its lastTransitionTime while its status holds) and never go
back in time: a verification of an older sync never overwrites the status of a newer one. Syncs
are ordered by ``syncStartedAt`` (Argo CD's ``operationState.startedAt``); writes carry
``metadata.resourceVersion`` and are retried on 409 after re-reading, so two racing runs cannot
interleave half-statuses.

``phase`` says where the TruthCheck is in the hook lifecycle (see docs/truthcheck.md):
``Pending`` (a sync started; earlier verdicts no longer apply), ``Verifying`` (the PostSync run
is observing), ``Verified`` (a verdict for ``revision``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from webhooks.cluster.api import ClusterReader, StatusWriter
from webhooks.cluster.resources import TRUTHCHECK
from webhooks.common.times import format_time, try_parse_time
from webhooks.errors import ClusterError, ConflictError, short
from webhooks.evidence.model import Finding, KubeObject, Verdict, VerdictValue
from webhooks.postsync.appinfo import SyncRef
from webhooks.verdict.freshness import VerifiedBy, verified_stamp

log = logging.getLogger(__name__)

Phase = Literal["Pending", "Verifying", "Verified"]
MAX_FINDINGS = 50
MAX_TEXT = 1024  # a finding message or the summary
CONFLICT_ATTEMPTS = 5

_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_CONDITION_STATUS: dict[VerdictValue, str] = {
    "Healthy": "True",
    "Degraded": "False",
    "Progressing": "Unknown",
    "Unknown": "Unknown",
}


def capped_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first (stable within a severity), at most MAX_FINDINGS, messages cut."""
    ordered = sorted(findings, key=lambda f: _SEVERITY_RANK.get(f.get("severity", "info"), 3))
    out: list[Finding] = []
    for finding in ordered[:MAX_FINDINGS]:
        capped = dict(finding)
        capped["message"] = short(finding.get("message", ""), MAX_TEXT)
        out.append(capped)  # type: ignore[arg-type]  # same keys as Finding
    return out


def _condition(
    previous: dict[str, Any], status: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    old = next(
        (
            c
            for c in previous.get("conditions") or []
            if isinstance(c, dict) and c.get("type") == "Verified"
        ),
        None,
    )
    keep = old is not None and old.get("status") == status and old.get("lastTransitionTime")
    return {
        "type": "Verified",
        "status": status,
        "reason": reason,
        "message": short(message, MAX_TEXT),
        "lastTransitionTime": old["lastTransitionTime"] if keep and old else format_time(now),
    }


def _base(truthcheck: KubeObject, sync: SyncRef, phase: Phase) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if sync.revision is not None:
        status["revision"] = sync.revision
    if sync.started_at is not None:
        status["syncStartedAt"] = sync.started_at
    generation = (truthcheck.get("metadata") or {}).get("generation")
    if isinstance(generation, int):
        status["observedGeneration"] = generation
    return status


def verified_status(
    verdict: Verdict,
    truthcheck: KubeObject,
    sync: SyncRef,
    now: datetime,
    *,
    generation: int | None = None,
    by: VerifiedBy = "sync",
) -> dict[str, Any]:
    """The status for a verdict. ``generation``: the TruthCheck generation that was judged;
    ``by``: who judged it (the hook after a sync, or the auditor)."""
    previous = truthcheck.get("status") or {}
    status = _base(truthcheck, sync, "Verified")
    if generation is not None:
        status["observedGeneration"] = generation
    if verdict.get("revision"):
        status["revision"] = verdict["revision"]
    findings = verdict.get("findings") or []
    summary = short(verdict.get("summary") or verdict["verdict"], MAX_TEXT)
    status.update(
        {
            "verdict": verdict["verdict"],
            "verifiedAt": format_time(now),
            "summary": summary,
            "findings": capped_findings(findings),
            "conditions": [
                _condition(
                    previous,
                    _CONDITION_STATUS[verdict["verdict"]],
                    verdict["verdict"],
                    summary,
                    now,
                )
            ],
        }
    )
    status.update(verified_stamp(truthcheck, now, by))
    if len(findings) > MAX_FINDINGS:
        status["findingsTotal"] = len(findings)
    return status


def pending_status(truthcheck: KubeObject, sync: SyncRef, now: datetime) -> dict[str, Any]:
    """Written by the PreSync hook: the previous verdict does not describe this sync."""
    previous = truthcheck.get("status") or {}
    what = f"revision {sync.revision}" if sync.revision else "the sync in progress"
    status = _base(truthcheck, sync, "Pending")
    status["summary"] = f"Sync started: awaiting verification of {what}"
    status["conditions"] = [_condition(previous, "Unknown", "Pending", status["summary"], now)]
    return status


def verifying_status(
    truthcheck: KubeObject, sync: SyncRef, now: datetime, until: datetime
) -> dict[str, Any]:
    """Written when the PostSync run starts observing."""
    previous = truthcheck.get("status") or {}
    what = f"revision {sync.revision}" if sync.revision else "the last sync"
    status = _base(truthcheck, sync, "Verifying")
    status["summary"] = f"Verifying {what}: observing until {format_time(until)}"
    status["conditions"] = [_condition(previous, "Unknown", "Verifying", status["summary"], now)]
    return status


def supersedes(current: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """May ``new`` replace ``current``? Not when ``current`` is about a later sync."""
    if not current:
        return True
    current_start = try_parse_time(current.get("syncStartedAt"))
    new_start = try_parse_time(new.get("syncStartedAt"))
    if current_start is None or new_start is None:
        return True
    return new_start >= current_start


@dataclass(frozen=True)
class Published:
    written: bool
    status: dict[str, Any]  # what the TruthCheck's status is now
    reason: str = ""


def publish_status(
    reader: ClusterReader,
    writer: StatusWriter,
    namespace: str,
    name: str,
    build: Callable[[KubeObject], dict[str, Any]],
    *,
    attempts: int = CONFLICT_ATTEMPTS,
) -> Published:
    """Read the TruthCheck, build its new status from it, write it guarded by resourceVersion.

    On 409 (someone wrote in between) read again and rebuild: the newer-sync check and the
    conditions' lastTransitionTime are decided against what is really stored.
    """
    for attempt in range(1, attempts + 1):
        truthcheck = reader.get_object(TRUTHCHECK, namespace, name)
        if truthcheck is None:
            raise ClusterError(f"TruthCheck {namespace}/{name} not found (was it deleted?)")
        current = truthcheck.get("status") or {}
        new = build(truthcheck)
        if not supersedes(current, new):
            return Published(
                False,
                current,
                f"kept the status of the newer sync started at {current.get('syncStartedAt')} "
                f"(this run verified the sync started at {new.get('syncStartedAt')})",
            )
        # A merge patch keeps keys it does not mention: clear what the new status drops.
        body = {k: None for k in current if k not in new} | new
        rv = (truthcheck.get("metadata") or {}).get("resourceVersion")
        try:
            written = writer.patch_status(TRUTHCHECK, namespace, name, body, rv)
        except ConflictError:
            log.info(
                "TruthCheck %s/%s changed while writing (attempt %d): re-reading",
                namespace,
                name,
                attempt,
            )
            continue
        return Published(True, written.get("status") or new)
    raise ConflictError(
        f"TruthCheck {namespace}/{name}: status kept changing under us ({attempts} conflicts)"
    )


def verification_record(
    verdict: Verdict,
    *,
    app: str,
    app_namespace: str | None,
    truthcheck: KubeObject,
    sync: SyncRef,
    now: datetime,
    digest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ledger's account of one verification: the summary, and under ``evidence`` the
    Evidence's digest (:mod:`webhooks.verdict.digest`: bounded, secret-free), not the whole
    Evidence."""
    meta = truthcheck.get("metadata") or {}
    findings = verdict.get("findings") or []
    return {
        "app": app,
        "appNamespace": app_namespace,
        "time": format_time(now),
        "truthCheck": {"namespace": meta.get("namespace"), "name": meta.get("name")},
        "revision": verdict.get("revision") or sync.revision,
        "syncStartedAt": sync.started_at,
        "verdict": verdict["verdict"],
        "summary": short(verdict.get("summary") or "", MAX_TEXT),
        "findings": capped_findings(findings),
        "findingsTotal": len(findings),
    } | ({"evidence": digest} if digest is not None else {})
