"""Evidence -> Verdict: the pure heart of post-sync verification.

``judge`` runs every cross-layer check and the behaviour-baseline judge over one Evidence
document, hands their findings to the Rego verdict policy, and returns the Verdict. It does no
I/O (the policy is loaded beforehand) and reads no clock (``collectedAt`` is "now"), so
``truthgate replay`` re-judges a saved document exactly as ``truthgate verify`` did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast, get_args

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.checks.registry import CHECKS, Check
from webhooks.checks.staleness import in_post_sync
from webhooks.common.api import API_VERSION
from webhooks.common.text import clip
from webhooks.errors import PolicyError, short
from webhooks.evidence.model import (
    Evidence,
    Finding,
    Layer,
    Severity,
    Verdict,
    VerdictValue,
)
from webhooks.verdict.policy import VerdictPolicy, default_policy

SUMMARY_LIMIT = 200
_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}
_LAYERS = frozenset(get_args(Layer))
_SUMMARY_LAYER_RANK: dict[str, int] = {"runtime": 0, "behaviour": 1, "declared": 2, "controller": 3}
#: Findings that only restate what another finding says why: an unfinished rollout (pods still on
#: the old image) after the Pending on quota or memory, the crash loop or the progress deadline;
#: Argo CD's "sync Failed" after the step that failed (the hook, the refused object). They go
#: after every other finding in the summary.
_SUMMARY_SYMPTOMS = frozenset({"images/declared", "staleness/sync-failed"})
_SEVERITIES = frozenset(get_args(Severity))


def _run_checks(
    evidence: Evidence, ctx: CheckContext, checks: Mapping[str, Check]
) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for name, check in checks.items():
        try:
            out += check(evidence, ctx)
        except Exception as e:  # one odd object must not hide what every other check found
            out.append(
                finding(
                    "controller",
                    f"{name}/error",
                    None,
                    f"check {name} could not run: {short(repr(e), 160)}",
                    "warning",
                )
            )
    metrics = evidence.get("metrics") or []
    if metrics:
        # Imported here, not at the top: the baseline judge pulls in scipy (over a second of
        # start-up), which a replay of evidence without metrics should not pay for.
        from webhooks.baseline.judge import assess_all
        from webhooks.baseline.judge import finding as metric_finding
        from webhooks.verdict import attribution

        now = ctx.now.timestamp() if ctx.now else None
        assessments = assess_all(metrics, now=now)
        # The chain's first link before its last: what declared change (or none) it followed.
        out += attribution.findings(evidence, ctx, metrics, assessments)
        out += [cast(CheckFinding, f) for a in assessments if (f := metric_finding(a))]
    return out


def evidence_summary(evidence: Evidence, ctx: CheckContext) -> dict[str, Any]:
    """What the policy may know about the Evidence beyond the findings."""
    application = evidence.get("application") or {}
    counts = {
        "objects": len(evidence.get("objects") or []),
        "intents": len(evidence.get("intents") or []),
        "probes": len(evidence.get("probes") or []),
        "metrics": len(evidence.get("metrics") or []),
    }
    return {
        "present": bool(application) or any(counts.values()),
        "app": ctx.app,
        "revision": ctx.revision,
        "syncPhase": kube.get_str(application, "status", "operationState", "phase"),
        "inPostSync": in_post_sync(application),
        "health": kube.get_str(application, "status", "health", "status"),
        "sync": kube.get_str(application, "status", "sync", "status"),
        "counts": counts,
    }


def _published(raw: Mapping[str, Any]) -> Finding:
    """A policy-returned finding, checked and cut back to the Finding contract."""
    layer, severity, check, message = (
        raw.get(k) for k in ("layer", "severity", "check", "message")
    )
    resource = raw.get("resource")
    if (
        layer not in _LAYERS
        or severity not in _SEVERITIES
        or not isinstance(check, str)
        or not isinstance(message, str)
        or not (resource is None or isinstance(resource, dict))
    ):
        raise PolicyError(f"verdict policy returned a malformed finding: {short(dict(raw), 200)}")
    ref = None
    if isinstance(resource, dict):
        ns = resource.get("namespace")
        ref = {
            "kind": str(resource.get("kind") or ""),
            "namespace": ns if isinstance(ns, str) else None,
            "name": str(resource.get("name") or ""),
        }
    return cast(
        Finding,
        {"layer": layer, "check": check, "resource": ref, "message": message, "severity": severity},
    )


def _summary(
    verdict: VerdictValue,
    reasons: tuple[str, ...],
    findings: list[Finding],
    counts: Mapping[str, int],
) -> str:
    # One message per object: a crash-looping StatefulSet shows up in several checks, and the
    # summary has room for two or three things at most.
    by_message = {f["message"]: f for f in findings}

    # The runtime says *why* (pods Pending on quota); the controller layer only that something
    # is off. When several findings name one object, the summary quotes the most concrete.
    # A symptom (pods still on the old image) goes after any finding that may say why, whatever
    # its layer: a rollout past its deadline on a failing readiness probe leads.
    def rank(reason: str) -> tuple[bool, int]:
        found = by_message.get(reason)
        if found is None:
            return (False, 4)
        return (found["check"] in _SUMMARY_SYMPTOMS, _SUMMARY_LAYER_RANK.get(found["layer"], 4))

    ordered = sorted(dict.fromkeys(reasons), key=rank)
    seen: set[tuple[str, str | None, str]] = set()
    items: list[str] = []
    for reason in ordered:
        res = by_message[reason]["resource"] if reason in by_message else None
        if res is not None:
            rkey = (res["kind"], res["namespace"], res["name"])
            if rkey in seen:
                continue
            seen.add(rkey)
        items.append(reason)
    n_crit = sum(f["severity"] == "critical" for f in findings)
    n_warn = sum(f["severity"] == "warning" for f in findings)
    if verdict == "Degraded":
        head = f"{n_crit} critical: " if n_crit else "Degraded: "
    elif verdict == "Progressing":
        head = "Progressing: "
    elif verdict == "Unknown":
        head = "Unknown: "
    elif items:
        head = f"Healthy with {n_warn} warning{'s' if n_warn != 1 else ''}: "
    else:
        looked = ", ".join(f"{n} {k if n != 1 else k[:-1]}" for k, n in counts.items() if n)
        return f"Healthy: no divergence found ({looked or 'nothing collected'})"
    text = head + "; ".join(items)
    return clip(text, SUMMARY_LIMIT)


def judge(
    evidence: Evidence,
    *,
    policy: VerdictPolicy | None = None,
    checks: Mapping[str, Check] = CHECKS,
) -> Verdict:
    """Judge one Evidence document. Raises PolicyError if the verdict policy misbehaves."""
    ctx = CheckContext.from_evidence(evidence)
    raw = _run_checks(evidence, ctx, checks)
    summary = evidence_summary(evidence, ctx)
    settings = kube.get_dict(evidence.get("truthCheck"), "spec", "verdict")
    decision = (policy or default_policy()).evaluate(
        {"findings": raw, "evidence": summary, "settings": settings}
    )
    published = [
        _published(f) for f in (decision.findings if decision.findings is not None else raw)
    ]
    # Stable sort: within a severity, findings keep the checks' order (convergence first).
    published.sort(key=lambda f: _RANK.get(f["severity"], 3))
    return {
        "apiVersion": API_VERSION,
        "kind": "Verdict",
        "verdict": decision.verdict,
        "revision": ctx.revision,
        "summary": _summary(decision.verdict, decision.reasons, published, summary["counts"]),
        "findings": published,
    }
