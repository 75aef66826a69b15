"""A verdict's age in the health message: what the hook and the auditor write, read by the Lua.

The status comes from the real publisher (``verified_status``, the heartbeat's
``verified_stamp``); the health from health.lua in the Argo CD-shaped sandbox with a pinned
clock. A working auditor never makes a verdict look stale; a stopped one does, without turning
the TruthCheck Unknown or Progressing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argocd_health.sandbox import app_health, run_health
from webhooks.common.times import unix_seconds
from webhooks.evidence.model import Verdict, VerdictValue
from webhooks.postsync.appinfo import SyncRef
from webhooks.postsync.publish import verified_status
from webhooks.verdict.freshness import AuditSettings, verified_stamp

HEALTH_DIR = Path(__file__).resolve().parents[2] / "argocd/health/truthgate.dev/TruthCheck"
SCRIPT = (HEALTH_DIR / "health.lua").read_text(encoding="utf-8")
TIMED_CASES: list[dict[str, Any]] = [
    c
    for c in yaml.safe_load((HEALTH_DIR / "health_test.yaml").read_text("utf-8"))["tests"]
    if "now" in c
]
T0 = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
SYNC = SyncRef("abc123", "2026-11-27T12:55:00Z", None, "Succeeded")
STALE_NOTE = "the truthgate auditor may have stopped or be failing"


def _case_obj(case: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((HEALTH_DIR / case["inputPath"]).read_text("utf-8"))
    return doc


def _truthcheck(audit: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "shop-web", "namespace": "shop", "generation": 3},
        "spec": {"application": "shop-web", **({"audit": audit} if audit is not None else {})}
        | spec,
    }


def _published(
    value: VerdictValue, tc: dict[str, Any], at: datetime = T0, by: str = "audit"
) -> dict[str, Any]:
    verdict: Verdict = {
        "apiVersion": "truthgate.dev/v1alpha1",
        "kind": "Verdict",
        "verdict": value,
        "revision": "abc123",
        "summary": f"summary of {value}",
        "findings": [],
    }
    status = verified_status(verdict, tc, SYNC, at, generation=3, by=by)  # type: ignore[arg-type]
    return tc | {"status": status}


def _health_at(obj: dict[str, Any], at: datetime) -> dict[str, Any]:
    return run_health(SCRIPT, obj, now=unix_seconds(at))


# -- the publisher and the Lua agree --------------------------------------------------------


def test_status_carries_the_verification_time_as_text_and_as_unix_seconds() -> None:
    status = _published("Healthy", _truthcheck(), at=T0 + timedelta(milliseconds=750))["status"]
    assert status["lastVerifiedAt"] == "2026-11-27T13:00:00.750Z"
    assert status["lastVerifiedEpoch"] == 1795784400
    assert status["verifiedBy"] == "audit"
    assert status["staleAfterSeconds"] == 3600  # two 30-minute heartbeats at the 5m default
    sync_only = _published("Healthy", _truthcheck({"enabled": False}), by="sync")["status"]
    assert sync_only["verifiedBy"] == "sync" and "staleAfterSeconds" not in sync_only


def test_the_hook_keeps_the_stale_bound_an_auditor_set_but_never_starts_it() -> None:
    # No auditor has looked at this TruthCheck yet (none may be installed): no promise to
    # look again, so the health message never says an auditor stopped.
    first = _published("Healthy", _truthcheck(), by="sync")
    assert "staleAfterSeconds" not in first["status"]
    late = T0 + timedelta(hours=5)
    assert "auditor" not in _health_at(first, late)["message"]
    # Once an auditor has written it, a later sync keeps it: a stopped auditor still shows.
    audited = _published("Healthy", _truthcheck(), by="audit")
    after_sync = _published("Healthy", audited, by="sync")
    assert after_sync["status"]["staleAfterSeconds"] == 3600
    assert "auditor may have stopped" in _health_at(after_sync, late)["message"]


@pytest.mark.parametrize("interval", ["30s", "5m", "20m", "2h"])
def test_a_working_auditor_never_makes_a_verdict_look_stale(interval: str) -> None:
    tc = _truthcheck({"interval": interval})
    settings = AuditSettings.from_truthcheck(tc)
    obj = _published("Degraded", tc)
    # The auditor rewrites an unchanged verdict once a heartbeat has passed, noticed at its next
    # audit (one interval later at worst): just before that write the verdict is at its oldest.
    oldest = T0 + settings.heartbeat + settings.interval
    got = _health_at(obj, oldest)
    assert got["status"] == "Degraded"
    assert " ago by audit)" in got["message"] and STALE_NOTE not in got["message"]
    # The heartbeat itself: the same verdict, verified again, young again.
    beat = obj | {"status": obj["status"] | verified_stamp(tc, oldest, "audit")}
    assert _health_at(beat, oldest)["message"] == "summary of Degraded (verified <5m ago by audit)"


@pytest.mark.parametrize("value", ["Healthy", "Degraded", "Progressing", "Unknown"])
def test_a_stopped_auditor_shows_in_the_message_and_never_as_unknown_or_progressing(
    value: VerdictValue,
) -> None:
    tc = _truthcheck({"interval": "5m"})
    obj = _published(value, tc)
    fresh = _health_at(obj, T0 + timedelta(minutes=12))
    stale = _health_at(obj, T0 + AuditSettings.from_truthcheck(tc).stale_after + timedelta(hours=2))
    assert fresh["message"].endswith("(verified 10m ago by audit)")
    assert stale["message"].endswith(f"(verdict is 3h old: {STALE_NOTE})")
    assert stale["status"] in ("Healthy", "Degraded")
    # The last verdict stands: a stale Degraded still makes the app Degraded, a stale Healthy
    # hides no other resource's Degraded.
    assert stale["status"] == ("Degraded" if value == "Degraded" else "Healthy")
    assert app_health("Degraded", stale["status"]) == "Degraded"
    if value == "Progressing":  # would hold the next sync's health wait on nobody's rollout
        assert fresh["status"] == "Progressing"
        assert stale["message"].startswith("Not judged by truthgate (verdict Progressing)")


def test_a_sync_only_truthcheck_grows_old_without_a_warning() -> None:
    obj = _published("Healthy", _truthcheck({"enabled": False}), by="sync")
    got = _health_at(obj, T0 + timedelta(days=9, hours=5))
    assert got == {"status": "Healthy", "message": "summary of Healthy (verified 9d ago by sync)"}


def test_the_message_changes_a_few_times_an_hour_at_most() -> None:
    # Argo CD rewrites the Application whenever a resource's health message changes; it
    # reassesses health every few minutes. Sweep a day minute by minute.
    obj = _published("Healthy", _truthcheck({"enabled": False}), by="sync")
    messages = [_health_at(obj, T0 + timedelta(minutes=m))["message"] for m in range(24 * 60)]
    changes = [m for m in range(1, len(messages)) if messages[m] != messages[m - 1]]
    assert [m for m in changes if m < 60] == [5, 10, 15, 30, 45]
    assert changes[5:] == [h * 60 for h in range(1, 24)]  # then hourly
    assert messages[59] == "summary of Healthy (verified 45m ago by sync)"
    assert messages[-1] == "summary of Healthy (verified 23h ago by sync)"


# -- without a clock, and with nonsense ---------------------------------------------------


@pytest.mark.parametrize("case", TIMED_CASES, ids=[c["inputPath"] for c in TIMED_CASES])
def test_without_an_os_library_the_message_is_the_one_without_an_age(case: dict[str, Any]) -> None:
    obj = _case_obj(case)
    no_age = obj | {"status": {k: v for k, v in obj["status"].items() if k != "lastVerifiedEpoch"}}
    without_os = run_health(SCRIPT, obj, with_os=False)
    assert without_os == run_health(SCRIPT, no_age, now=case["now"])
    assert " ago" not in without_os["message"] and STALE_NOTE not in without_os["message"]


@pytest.mark.parametrize(
    "prelude",
    [
        "os = {}",  # an os without time
        "os.time = function() error('no clock here') end",
        "os.time = function() return 'noon' end",
        "os.time = function() return 0/0 end",
    ],
)
def test_a_broken_clock_leaves_the_age_out(prelude: str) -> None:
    obj = _published("Degraded", _truthcheck())
    got = run_health(prelude + "\n" + SCRIPT, obj, now=unix_seconds(T0 + timedelta(hours=5)))
    assert got == {"status": "Degraded", "message": "summary of Degraded"}


GARBAGE: list[Any] = [
    "1795784400",
    "",
    True,
    {"seconds": 1},
    [1, 2],
    0,
    -1,
    math.nan,
    math.inf,
    -math.inf,
    1e300,
    0.5,
]


@pytest.mark.parametrize("value", GARBAGE, ids=repr)
@pytest.mark.parametrize(
    "path",
    [
        "status.lastVerifiedEpoch",
        "status.staleAfterSeconds",
        "status.verifiedBy",
        "status.summary",
        "status.verdict",
        "status.observedGeneration",
        "metadata.generation",
        "spec.audit",
        "spec",
    ],
)
def test_a_field_of_the_wrong_type_never_makes_the_script_fail(path: str, value: Any) -> None:
    # The API server's schema keeps these out of a stored TruthCheck; the script must not
    # depend on it (an older CRD, another writer): whatever the field holds, a health results.
    obj = _published("Degraded", _truthcheck())
    *parents, key = path.split(".")
    node = obj
    for parent in parents:
        node = node[parent]
    node[key] = value
    for now in (T0, T0 + timedelta(days=2)):
        got = _health_at(obj, now)
        assert set(got) == {"status", "message"}
        assert got["status"] in ("Healthy", "Degraded") and isinstance(got["message"], str)
        if path.endswith("eneration") and got["status"] == "Healthy":
            # a number that really is behind: the TruthCheck changed since it was judged
            assert got["message"].startswith("Awaiting verification of generation")
        elif path != "status.verdict":  # the verdict still decides the health
            assert got["status"] == "Degraded"
    if path == "status.verdict" and not isinstance(value, str):
        assert _health_at(obj, T0)["message"].startswith(
            f"Not judged by truthgate: unrecognised verdict of type {_lua_type(value)} in"
        )


def _lua_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "table"
