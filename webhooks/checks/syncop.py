"""What Argo CD's sync operation itself admits, cause first.

Argo CD's ``status.operationState`` says that a sync failed in words meant for every failure
("one or more synchronization tasks completed unsuccessfully", "one or more objects failed to
apply, reason: …", "Operation terminated"); the step that failed is one entry of
``syncResult.resources``, with the API server's refusal or the hook's outcome as its
``message``. So the findings name each failed step first (``staleness/sync-result``: a hook
that failed, with how its Job's last pod ended when the Evidence carries them; an object the
API server or an admission webhook refused), and the failed operation after them
(``staleness/sync-failed``), naming those steps instead of repeating their messages. An
operation that failed with no failed step (terminated by hand or by Argo CD's sync timeout)
says which phase it stopped in and which hooks it deleted while they ran; one still running
says which phase it is in and which hooks it waits on.

truthgate's own hook Jobs (the PreSync ``--phase pre-sync`` mark, the PostSync verifier) are
never named as a cause: they are recognised by the ``app.kubernetes.io/component: verifier``
label and the ``verify`` command the shipped hooks carry. A PostSync verifier that exits 1 on a
Degraded verdict (``spec.onDivergence: fail-sync``) fails the sync on purpose; the operation it
failed is then a warning, and the verdict rests on what the live state shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from webhooks.checks import kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.argocd import short_revision
from webhooks.common.text import clip

#: Argo CD's sync phases in the order it runs them.
_PHASES = ("PreSync", "Sync", "PostSync", "SyncFail")
#: What Argo CD's operation message appends after its own line: the failed steps' messages,
#: each quoted again by the step's own finding.
_REASON = ", reason: "
#: What Argo CD appends to the operation's message once its retries are spent:
#: `` (retried 5 times).``
_RETRIED = re.compile(r"\(retried \d+ times?\)(?=\.?$)")
#: How much of a failed step's message a finding quotes (the API server's refusal can be long).
_STEP_TEXT = 400
#: kubectl's prefix to the API server's answer: ``error when patching "/dev/shm/2551713946": ``.
_KUBECTL_FILE = re.compile(r'^error when [a-z]+ "[^"]*": ')
#: What Argo CD's termination writes on a hook it deleted while it ran.
_DELETED = "Deleted"


@dataclass(frozen=True)
class Step:
    """One entry of ``syncResult.resources``."""

    entry: dict[str, Any]
    kind: str
    namespace: str | None
    name: str

    @property
    def ref(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    @property
    def shown(self) -> str:
        return kube.display_ref({"kind": self.kind, "namespace": self.namespace, "name": self.name})

    @property
    def hook(self) -> str | None:
        return kube.get_str(self.entry, "hookType") or None

    def named(self) -> str:
        """``Job shop/db-migrate (PreSync hook)`` or ``Deployment shop/web``."""
        return f"{self.shown} ({self.hook} hook)" if self.hook else self.shown

    def failed(self) -> bool:
        return kube.get_str(self.entry, "status") == "SyncFailed" or kube.get_str(
            self.entry, "hookPhase"
        ) in ("Failed", "Error")


def steps(application: object) -> list[Step]:
    return [
        Step(
            r,
            kube.get_str(r, "kind") or "",
            kube.get_str(r, "namespace") or None,
            kube.get_str(r, "name") or "",
        )
        for r in kube.dicts(application, "status", "operationState", "syncResult", "resources")
    ]


def is_own_hook(ctx: CheckContext, step: Step) -> bool:
    """Whether the step is one of truthgate's own hook Jobs, as the Evidence carries it."""
    if step.kind != "Job" or not step.hook:
        return False
    live = ctx.index.get(step.kind, step.namespace, step.name)
    if kube.str_map(live, "metadata", "labels").get("app.kubernetes.io/component") != "verifier":
        return False
    return any(
        kube.get_list(c, "args")[:1] == ["verify"]
        for c in kube.dicts(live, "spec", "template", "spec", "containers")
    )


def _cause(ctx: CheckContext, step: Step) -> CheckFinding:
    # An admission webhook's refusal (Kyverno, Gatekeeper) spans lines; a finding is one. The
    # temporary file kubectl applied from names nothing the reader can look at.
    said = _KUBECTL_FILE.sub("", kube.get_str(step.entry, "message") or "")
    why = clip(said, _STEP_TEXT, one_line=True)
    if kube.get_str(step.entry, "status") == "SyncFailed":
        text = f"{step.named()} failed to apply: {why}"
    elif step.hook:
        text = f"{step.named()} failed: {why}"
        # A failed hook Job the collector kept: how its last pod ended says why.
        live = ctx.index.get(step.kind, step.namespace, step.name)
        if live is not None and (last := pods.last_failure(ctx.index.pods_of(live))):
            text += f"; last: {last}"
    else:  # a resource Argo CD waited on in a multi-step sync, and saw Degraded
        text = f"{step.named()} failed its sync step: {why}"
    return finding("controller", "staleness/sync-result", step.ref, text.rstrip(": "), "critical")


def _phase_reached(entries: Iterable[Step]) -> str | None:
    seen = {kube.get_str(s.entry, "syncPhase") for s in entries}
    return next((p for p in reversed(_PHASES) if p in seen), None)


def _listed(items: list[str], limit: int = 3) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def _failed(
    ctx: CheckContext, op: dict[str, Any], all_steps: list[Step], causes: list[Step], head: str
) -> CheckFinding:
    message = kube.get_str(op, "message") or ""
    if causes:
        # Argo CD's line, without the failed steps' messages it appends (their findings say
        # them), keeping the retry count it writes after them.
        line, _, reasons = message.partition(_REASON)
        retried = _RETRIED.search(reasons)
        text = f"{head}: {line}".rstrip(": ") + (f" {retried.group(0)}" if retried else "")
        plural = "s" if len(causes) > 1 else ""
        text += f"; failed step{plural}: {_listed([s.named() for s in causes])}"
        return finding("controller", "staleness/sync-failed", None, text, "critical")
    if own := [s.named() for s in all_steps if s.failed()]:
        text = (
            f"{head}: {message}".rstrip(": ") + f"; its only failed step is truthgate's own "
            f"{_listed(own)}, which fails the sync on a Degraded verdict when "
            "spec.onDivergence says so: the verdict rests on the live state"
        )
        return finding("controller", "staleness/sync-failed", None, text, "warning")
    text = f"{head}: {message}".rstrip(": ")
    if phase := _phase_reached(all_steps):
        text += f"; stopped in its {phase} phase"
    deleted = [
        s.named()
        for s in all_steps
        if s.hook and kube.get_str(s.entry, "message") == _DELETED and not is_own_hook(ctx, s)
    ]
    if deleted:
        text += f"; deleted while running: {_listed(deleted)}"
    return finding("controller", "staleness/sync-failed", None, text, "critical")


def _running(ctx: CheckContext, all_steps: list[Step], head: str) -> CheckFinding:
    running = [s for s in all_steps if kube.get_str(s.entry, "hookPhase") == "Running"]
    text = head
    if phase := _phase_reached(running) or _phase_reached(all_steps):
        text += f", in its {phase} phase"
        hooks = [s.named() for s in running if s.hook and not is_own_hook(ctx, s)]
        if hooks:
            text += f": {_listed(hooks)} running"
    return finding("controller", "staleness/sync-running", None, text, "warning", converging=True)


def check(ctx: CheckContext, application: object, in_post_sync: bool) -> list[CheckFinding]:
    """The operation's own findings: each failed step, then the failed operation; or a sync
    still running (not while only its PostSync hooks run: truthgate verify is one of them)."""
    op = kube.get_dict(application, "status", "operationState")
    phase = kube.get_str(op, "phase")
    revision = short_revision(ctx.revision) if ctx.revision else "unknown revision"
    head = f"Argo CD sync of {ctx.app or 'application'} at {revision}"
    all_steps = steps(application)
    causes = [s for s in all_steps if s.failed() and not is_own_hook(ctx, s)]
    out = [_cause(ctx, s) for s in causes]
    if phase in ("Failed", "Error"):
        out.append(_failed(ctx, op, all_steps, causes, f"{head} {phase}"))
    elif phase in ("Running", "Terminating") and not in_post_sync:
        out.append(_running(ctx, all_steps, f"{head} still {phase}"))
    return out
