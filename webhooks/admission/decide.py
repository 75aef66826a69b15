"""The admission decision: one AdmissionReview request in, one answer and one intent out.

Pure: no I/O of its own. The policy engine is injected (it is the only thing that may fail,
and a ``PolicyError`` becomes a decision under the configured failure mode, never an exception
to the caller), the clock is an argument, and the result says everything the server needs:
the v1 response fields, the per-policy outcomes for logs/metrics, and the intent draft to
append to the ledger (None for dry-run requests and objects no Argo CD application manages).

How outcomes combine, per the enforcement action configured for each policy package:

- ``deny``: its deny messages reject the request; its warn messages are warnings.
- ``warn``: its deny and warn messages are warnings; the request is admitted.
- ``dryrun``: nothing reaches the requester; the messages are recorded in the intent.

Every message keeps where it came from (``Message``: package, rule, action, effect), so
``truthgate policy eval`` can say which policy produced what the server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from webhooks.admission.config import AdmissionConfig, FailureMode
from webhooks.admission.context import TruthgateContext, build_input, is_scale
from webhooks.admission.review import (
    AdmissionRequest,
    AdmissionReviewResponse,
    bound_warnings,
    request_object,
    response_review,
)
from webhooks.common.text import clip
from webhooks.common.times import format_time
from webhooks.errors import PolicyError, TruthgateError, short
from webhooks.evidence.model import (
    IntentDecision,
    IntentDraft,
    KubeObject,
)
from webhooks.policy.engine import EnforcementAction, PolicyEngine, PolicyOutcome

# The workload a scale subresource request changes (None: it does not exist). May raise.
ParentLookup = Callable[[AdmissionRequest], KubeObject | None]

MAX_MESSAGE_CHARS = 256  # one policy message, as stored and shown


Effect = Literal["denial", "warning", "dryrun"]


@dataclass(frozen=True)
class Message:
    """One message of the answer or the intent, and what produced it."""

    package: str | None  # the policy package; None for truthgate's own (a policy error)
    rule: str | None  # "deny" or "warn"; None for truthgate's own
    action: str  # the enforcement action applied, or the failure mode for a policy error
    effect: Effect  # denial: rejects; warning: shown, admitted; dryrun: recorded only
    text: str


@dataclass(frozen=True)
class AppliedOutcome:
    """One policy's outcome and the enforcement action applied to it."""

    package: str
    action: EnforcementAction
    denials: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def messages(self) -> tuple[Message, ...]:
        """Its messages with their effect: deny rules under ``deny`` reject, under ``warn``
        warn; warn rules warn; under ``dryrun`` everything is recorded only."""
        deny_effect: Effect
        warn_effect: Effect
        if self.action is EnforcementAction.DENY:
            deny_effect, warn_effect = "denial", "warning"
        elif self.action is EnforcementAction.WARN:
            deny_effect, warn_effect = "warning", "warning"
        else:
            deny_effect, warn_effect = "dryrun", "dryrun"
        action = str(self.action)
        return tuple(
            Message(self.package, "deny", action, deny_effect, text) for text in self.denials
        ) + tuple(
            Message(self.package, "warn", action, warn_effect, text) for text in self.warnings
        )


@dataclass(frozen=True)
class Decision:
    uid: str
    allowed: bool
    message: str | None  # status.message: the denials, or the policy error when fail-closed
    code: int | None  # status.code when denied: 403 for policy denials, 500 for errors
    denials: tuple[str, ...]
    warnings: tuple[str, ...]  # shown to the requester (kubectl / Argo CD)
    dryrun: tuple[str, ...]  # recorded, never shown
    outcomes: tuple[AppliedOutcome, ...]
    messages: tuple[Message, ...] = ()  # every message above, attributed, in answer order
    policy_error: str | None = None
    failure_mode: FailureMode | None = None  # the mode applied, set only with policy_error
    intent: IntentDraft | None = None
    context: TruthgateContext | None = None

    def review(self) -> AdmissionReviewResponse:
        """The v1 AdmissionReview to send back."""
        return response_review(
            self.uid, self.allowed, message=self.message, code=self.code, warnings=self.warnings
        )


def _apply(outcome: PolicyOutcome, config: AdmissionConfig) -> AppliedOutcome:
    action = config.action_for(outcome.package, outcome.action)
    if not outcome.denials and not outcome.warnings:  # most policies, most reviews
        return AppliedOutcome(outcome.package, action)
    return AppliedOutcome(
        package=outcome.package,
        action=action,
        denials=tuple(
            clip(d, MAX_MESSAGE_CHARS, one_line=True, ascii_mark=True) for d in outcome.denials
        ),
        warnings=tuple(
            clip(w, MAX_MESSAGE_CHARS, one_line=True, ascii_mark=True) for w in outcome.warnings
        ),
    )


def _package(outcome: PolicyOutcome) -> str:
    return outcome.package


def _scale_parent(
    request: AdmissionRequest, parents: ParentLookup | None
) -> tuple[KubeObject | None, str | None]:
    """(the workload a scale request changes, or why it could not be read)."""
    if parents is None or not is_scale(request):
        return None, None
    try:
        return parents(request), None
    except TruthgateError as e:
        return None, short(f"cannot read the workload this scale request changes: {e}", 200)


def decide(
    request: AdmissionRequest,
    engine: PolicyEngine,
    config: AdmissionConfig,
    now: datetime,
    *,
    parents: ParentLookup | None = None,
) -> Decision:
    """Evaluate the policies targeting the request's kind and combine their outcomes.

    ``parents`` reads the workload a scale subresource request changes (injected I/O, like the
    engine); when it fails the failure mode applies, as for a policy that cannot be evaluated.
    """
    parent, error = _scale_parent(request, parents)
    policy_input = build_input(request, config, parent)
    context = policy_input["truthgate"]
    kind = request["kind"]["kind"]

    errors: list[str] = [error] if error is not None else []
    raw: list[PolicyOutcome] = []
    if error is None:
        try:
            raw = sorted(engine.evaluate(kind, cast(dict[str, Any], policy_input)), key=_package)
        except PolicyError as e:  # nothing could be evaluated (input refused, engine unreachable)
            raw, errors = [], [short(e, 200)]
    # A policy that failed is left out; the others' outcomes stand (its error cancels nothing).
    errors.extend(short(o.error, 200) for o in raw if o.error is not None)
    outcomes = tuple(_apply(o, config) for o in raw if o.error is None)
    error = short("; ".join(errors), 400) if errors else None

    messages = [m for o in outcomes if o.denials or o.warnings for m in o.messages()]
    failure_mode: FailureMode | None = None
    code: int | None = None
    message: str | None = None
    if error is not None:
        failure_mode = config.failure_mode
        if failure_mode == "fail-open":
            # Fail-open passes over the failed policies only: another's denial still denies.
            denied = any(m.effect == "denial" for m in messages)
            verdict = "ignored" if denied else "admitted"
            text = f"truthgate: policy evaluation failed, {verdict} (fail-open): {error}"
            messages.append(Message(None, None, failure_mode, "warning", text))
        else:
            text = f"truthgate: policy evaluation failed, denied (fail-closed): {error}"
            messages.append(Message(None, None, failure_mode, "denial", text))
            code = 500
    denials = [m.text for m in messages if m.effect == "denial"]
    warnings = [m.text for m in messages if m.effect == "warning"]
    dryrun = [m.text for m in messages if m.effect == "dryrun"]
    allowed = not denials
    if not allowed:
        message = "; ".join(denials)
        code = code or 403
    shown = bound_warnings(warnings)

    intent: IntentDraft | None = None
    if context["managed"] and not request.get("dryRun", False):
        decision: IntentDecision = {"allowed": allowed, "denials": denials, "warnings": shown}
        if dryrun:
            decision["dryrun"] = dryrun
        if error is not None:
            decision["error"] = f"{error} ({failure_mode})"
        obj_meta = request_object(request).get("metadata") or {}
        intent = {
            "uid": request["uid"],
            "time": format_time(now),
            "app": context["app"],
            # A scale is recorded as the edit of the workload it scales (patch /spec/replicas).
            "kind": {
                "group": request["resource"]["group"],
                "version": request["resource"]["version"],
                "kind": str(parent.get("kind")),
            }
            if parent is not None
            else {
                "group": request["kind"]["group"],
                "version": request["kind"]["version"],
                "kind": kind,
            },
            "namespace": request.get("namespace") or obj_meta.get("namespace") or None,
            "name": request.get("name") or obj_meta.get("name") or None,
            "operation": request["operation"],
            "actor": context["actor"],
            "patch": context["patch"],
            "decision": decision,
            "dryRun": bool(request.get("dryRun", False)),
            "breakGlass": context["breakGlass"],
        }

    return Decision(
        uid=request["uid"],
        allowed=allowed,
        message=message,
        code=code,
        denials=tuple(denials),
        warnings=tuple(shown),
        dryrun=tuple(dryrun),
        outcomes=outcomes,
        messages=tuple(messages),
        policy_error=error,
        failure_mode=failure_mode,
        intent=intent,
        context=context,
    )
