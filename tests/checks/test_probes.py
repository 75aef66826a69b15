"""Probes: truthgate's own HTTP probe results, judged."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import evidence, run
from webhooks.checks import probes


def _probe(**over: Any) -> dict[str, Any]:
    return {
        "name": "checkout",
        "url": "http://web.shop.svc/healthz",
        "ok": True,
        "status": 200,
        "latencyMs": 12.0,
        "at": "2026-11-27T10:10:00Z",
        "error": None,
        **over,
    }


def test_failed_probe_names_status_error_and_latency() -> None:
    [f] = run(
        probes.check,
        evidence(probes=[_probe(ok=False, status=503, latencyMs=1240.3, error="upstream reset")]),
    )
    assert f["severity"] == "critical" and f["resource"] is None
    assert f["message"] == (
        "probe checkout (http://web.shop.svc/healthz) failed: HTTP 503: upstream reset in 1240 ms"
    )


def test_probe_without_response_says_so() -> None:
    [f] = run(
        probes.check,
        evidence(
            probes=[_probe(ok=False, status=None, latencyMs=None, error="timed out after 5s")]
        ),
    )
    assert f["message"].endswith("failed: no response: timed out after 5s")


def test_a_result_with_only_name_and_ok_reads_as_a_sentence() -> None:
    # The Evidence schema requires only name and ok of a probe result.
    [f] = run(probes.check, evidence(probes=[{"name": "checkout", "ok": False}]))
    assert f["message"] == "probe checkout failed: no response"


def test_passing_probe_is_silent_and_one_from_before_the_sync_is_a_warning() -> None:
    assert run(probes.check, evidence(probes=[_probe()])) == []
    [f] = run(probes.check, evidence(probes=[_probe(at="2026-11-27T09:00:00Z")]))
    assert f["severity"] == "warning" and "before the sync" in f["message"]
