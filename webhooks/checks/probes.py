"""What did truthgate's own probes see?

``truthgate verify`` runs the HTTP probes named in the TruthCheck itself (independent of
readiness probes, which only the kubelet sees) and records each result in the Evidence. This
check only judges those results: a failed probe is a critical runtime finding naming the probe,
the HTTP status or error, and the latency. A result taken before the sync says nothing about
the new revision: a warning.
"""

from __future__ import annotations

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence


def _latency(value: object) -> str:
    """`` in 1240 ms``, or nothing when the result carries no latency (it is optional)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f" in {value:.0f} ms"
    return ""


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    results: list[object] = list(evidence.get("probes") or [])
    for probe in results:
        if not isinstance(probe, dict):
            continue
        name = kube.get_str(probe, "name") or "unnamed"
        url = kube.get_str(probe, "url") or ""
        label = f"probe {name} ({url})" if url else f"probe {name}"
        status = kube.get_int(probe, "status")
        error = kube.get_str(probe, "error")
        at = try_parse_time(probe.get("at"))
        if probe.get("ok") is not True:
            got = f"HTTP {status}" if status is not None else "no response"
            why = f": {clip(error, 120, one_line=True)}" if error else ""
            out.append(
                finding(
                    "runtime",
                    "probes/failed",
                    None,
                    f"{label} failed: {got}{why}{_latency(probe.get('latencyMs'))}",
                    "critical",
                )
            )
        elif at is not None and ctx.change_at is not None and at < ctx.change_at:
            out.append(
                finding(
                    "runtime",
                    "probes/stale",
                    None,
                    f"{label} passed at {kube.fmt_time(at)}, before the sync",
                    "warning",
                )
            )
    return out
