"""Did anyone change the app's objects outside GitOps since the sync?

The intent ledger records every admitted write with its actor class. A write by a human
(``kubectl edit``, ``kubectl scale``) to an object Argo CD manages makes the cluster diverge from
Git — and if self-heal is off, it stays that way while Argo CD may still show Synced (fields it
does not diff, ignoreDifferences, or between refreshes).

* ``drift/human`` — a human changed the object: critical, with who, when and which paths;
* ``drift/break-glass`` — the change was declared break-glass (an emergency with a reason):
  reported as such, a warning, with who and the reason;
* ``drift/unattributed`` — the actor could not be classified: a warning;
* ``drift/restart`` — a person's change was a ``kubectl rollout restart`` and nothing else (the
  pod template's ``restartedAt`` annotation): the pods were replaced, the spec is Git's, so it
  is a warning naming who and when.

Only admitted, non-dry-run intents at or after the sync count; denied requests changed nothing.
Patch *paths* are quoted, never values (Secret values are redacted in the ledger anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, ResourceRef


@dataclass
class _Change:
    ref: ResourceRef
    user: str
    actor_class: str
    reason: str | None
    operations: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)
    count: int = 0
    last: datetime | None = None
    restart_only: bool = True


_RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_TEMPLATE_ANNOTATIONS = "/spec/template/metadata/annotations"


def _restart_only(patch: object) -> bool:
    """The patch of ``kubectl rollout restart``: the template's restartedAt annotation only."""

    def restart(op: object) -> bool:
        path = kube.get_str(op, "path")
        if path == f"{_TEMPLATE_ANNOTATIONS}/{_RESTARTED_AT.replace('/', '~1')}":
            return True
        value = kube.get(op, "value")
        return (
            path == _TEMPLATE_ANNOTATIONS
            and isinstance(value, dict)
            and set(value) == {_RESTARTED_AT}
        )

    return isinstance(patch, list) and bool(patch) and all(restart(op) for op in patch)


def _paths(patch: object) -> list[str]:
    out = []
    for op in patch if isinstance(patch, list) else []:
        path = kube.get_str(op, "path")
        if path and path not in out:
            out.append(path)
    return out


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    changes: dict[tuple[str, str | None, str, str, str | None], _Change] = {}
    records: list[object] = list(evidence.get("intents") or [])
    for intent in records:
        if not isinstance(intent, dict):
            continue
        actor_class = kube.get_str(intent, "actor", "class") or "unknown"
        if actor_class not in ("human", "unknown"):
            continue
        when = try_parse_time(intent.get("time"))
        if (
            intent.get("dryRun") is True
            or kube.get_bool(intent, "decision", "allowed") is False
            or not ctx.since_change(when)
        ):
            continue
        ref: ResourceRef = {
            "kind": kube.get_str(intent, "kind", "kind") or "",
            "namespace": kube.get_str(intent, "namespace"),
            "name": kube.get_str(intent, "name") or "",
        }
        live = ctx.index.get(ref["kind"], ref["namespace"], ref["name"])
        ours = ctx.index.names_app(intent.get("app")) or (
            live is not None and ctx.index.is_member(live)
        )
        if not ours and ctx.app is not None:
            continue
        user = kube.get_str(intent, "actor", "username") or "unknown user"
        reason = intent.get("breakGlass")
        reason = reason if isinstance(reason, str) and reason.strip() else None
        k = (ref["kind"], ref["namespace"], ref["name"], user, reason)
        change = changes.setdefault(k, _Change(ref, user, actor_class, reason))
        change.count += 1
        change.restart_only = change.restart_only and _restart_only(intent.get("patch"))
        change.operations.add(str(intent.get("operation") or "?"))
        change.paths += [p for p in _paths(intent.get("patch")) if p not in change.paths]
        if when is not None and (change.last is None or when > change.last):
            change.last = when
    out: list[CheckFinding] = []
    for c in changes.values():
        paths = ", ".join(c.paths[:3]) + (f" +{len(c.paths) - 3} more" if len(c.paths) > 3 else "")
        what = f"{'/'.join(sorted(c.operations))}{' ' + paths if paths else ''}"
        times = f"{c.count} times, last at" if c.count > 1 else "at"
        shown = kube.display_ref(c.ref)
        if c.reason is not None:
            out.append(
                finding(
                    "declared",
                    "drift/break-glass",
                    c.ref,
                    f"{shown}: break-glass change by {c.user} {times} {kube.fmt_time(c.last)} "
                    f"({what}); reason: {clip(c.reason, 120, one_line=True)}",
                    "warning",
                )
            )
        elif c.actor_class == "human" and c.restart_only:
            out.append(
                finding(
                    "declared",
                    "drift/restart",
                    c.ref,
                    f"{shown}: restarted by {c.user} {times} {kube.fmt_time(c.last)} (kubectl "
                    "rollout restart); its pods were replaced, its spec is still Git's",
                    "warning",
                )
            )
        elif c.actor_class == "human":
            out.append(
                finding(
                    "declared",
                    "drift/human",
                    c.ref,
                    f"{shown}: changed out of band by {c.user} {times} {kube.fmt_time(c.last)} "
                    f"({what}); Git no longer describes it",
                    "critical",
                )
            )
        else:
            out.append(
                finding(
                    "declared",
                    "drift/unattributed",
                    c.ref,
                    f"{shown}: changed by unclassified actor {c.user} {times} "
                    f"{kube.fmt_time(c.last)} ({what})",
                    "warning",
                )
            )
    return out
