"""The extension's TruthCheck tab and the Lua health check say the same of the same status.

The statuses come from the real publisher (``verified_status``) and from every case of the
health check's own tests; the Lua runs in the Argo CD-shaped sandbox with a pinned clock; the
extension's ``verdictAge`` and ``truthcheckHealth`` (argocd/extension/src/model.js, bundled by
the project's esbuild) run in node with the same clock. Every note the Lua appends to the
message must be the tab's text, and the health and message the tab shows must be the Lua's.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argocd_health.sandbox import run_health
from tests.argocd_health.test_health_lua import CASES, HEALTH_DIR
from tests.argocd_health.test_verdict_age import SCRIPT
from tests.ui.browser import STALE
from tests.ui.harness import EXTENSION
from webhooks.common.times import format_time, unix_seconds
from webhooks.evidence.model import Verdict
from webhooks.postsync.appinfo import SyncRef
from webhooks.postsync.publish import verified_status
from webhooks.verdict.freshness import VerifiedBy

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="needs node"),
    pytest.mark.skipif(
        not (EXTENSION / "node_modules" / "esbuild").is_dir(),
        reason="run `npm ci` in argocd/extension first (tools/test does)",
    ),
]

VERIFIED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
VERDICT: Verdict = {
    "apiVersion": "truthgate.dev/v1alpha1",
    "kind": "Verdict",
    "verdict": "Healthy",
    "revision": "8f3c2a1e",
    "summary": "ok",
    "findings": [],
}
SYNC = SyncRef("8f3c2a1e", "2026-11-27T09:58:00Z", "2026-11-27T09:59:00Z", "Succeeded")
# Around every step of the message and both stale bounds below; a clock up to 5 minutes behind
# the writer's reads "<5m", one further behind shows no age.
AGES = [-400, -200, 0, 299, 300, 599, 600, 899, 900, 1799, 1800, 2699, 2700, 3599, 3600, 3601]
AGES += [7199, 7200, 14400, 14401, 86399, 86400, 90061]
AUDITS: list[dict[str, Any] | None] = [None, {"interval": "20m"}, {"enabled": False}]

# Bundle model.js as an ES module, then give each case's TruthCheck and clock to the function.
RUNNER = """
import { build } from "esbuild";
import { readFileSync } from "node:fs";
const [out, name] = process.argv.slice(1);
await build({ entryPoints: ["src/model.js"], outfile: out, bundle: true, format: "esm", logLevel: "warning" });
const run = (await import(out))[name];
const cases = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cases.map((c) => run(c.truthcheck, c.now))));
"""


def verdict_age(
    cases: list[dict[str, Any]], tmp_path: Path, function: str = "verdictAge"
) -> list[dict[str, Any] | None]:
    out = subprocess.run(
        ["node", "--input-type=module", "-e", RUNNER, str(tmp_path / "model.mjs"), function],
        cwd=EXTENSION,
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: list[dict[str, Any] | None] = json.loads(out.stdout)
    return result


def truthcheck(audit: dict[str, Any] | None, by: VerifiedBy) -> dict[str, Any]:
    tc: dict[str, Any] = {
        "metadata": {"name": "shop-web", "namespace": "shop", "generation": 1},
        "spec": {"application": "shop-web"} | ({"audit": audit} if audit is not None else {}),
    }
    tc["status"] = verified_status(VERDICT, tc, SYNC, VERIFIED, generation=1, by=by)
    return tc


def test_the_tab_tells_the_age_and_the_stale_warning_the_health_message_tells(
    tmp_path: Path,
) -> None:
    cases: list[dict[str, Any]] = [
        {"truthcheck": truthcheck(audit, by), "age": age}
        for audit in AUDITS
        for by in ("sync", "audit")
        for age in AGES
    ]
    now = [VERIFIED + timedelta(seconds=c["age"]) for c in cases]
    shown = verdict_age(
        [c | {"now": unix_seconds(t) * 1000} for c, t in zip(cases, now, strict=True)], tmp_path
    )
    stale = set()
    for case, at, tab in zip(cases, now, shown, strict=True):
        health = run_health(SCRIPT, case["truthcheck"], now=unix_seconds(at))
        note = f" ({tab['text']})" if tab is not None else ""
        assert health["message"] == f"ok{note}", (case["age"], case["truthcheck"]["spec"], tab)
        if tab is not None and tab["stale"]:
            stale.add((json.dumps(case["truthcheck"]["spec"].get("audit")), case["age"]))
    # The bounds are the ones the status carries: two heartbeats (1h at the 5m default, 4h at
    # 20m), and never for a sync-only TruthCheck.
    assert {age for audit, age in stale if audit == "null"} == {a for a in AGES if a > 3600}
    assert {age for audit, age in stale if "20m" in audit} == {a for a in AGES if a > 14400}
    assert not {audit for audit, _ in stale if "false" in audit}


def test_a_status_from_before_last_verified_at_shows_its_verified_at_age(
    tmp_path: Path,
) -> None:
    old: dict[str, Any] = {
        "spec": {"application": "shop-web"},
        "status": {"phase": "Verified", "verdict": "Healthy", "summary": "ok"},
    }
    old["status"]["verifiedAt"] = format_time(VERIFIED)
    now = unix_seconds(VERIFIED + timedelta(minutes=12)) * 1000
    [tab, none] = verdict_age(
        [{"truthcheck": old, "now": now}, {"truthcheck": {"status": {}}, "now": now}], tmp_path
    )
    assert tab == {"at": "2026-11-27T10:00:00Z", "stale": False, "text": "verified 10m ago"}
    assert none is None
    # The Lua needs the epoch: its message is the summary alone.
    assert run_health(SCRIPT, old, now=now // 1000)["message"] == "ok"


# status.lastVerifiedEpoch as a status may carry it: None is no field at all; a number is the
# verdict's age in seconds at NOW (negative: ahead of this clock); the rest no age.
EPOCH_AGES: list[Any] = [None, -400, -200, 299.5, 2700, 7300]
WRONG_EPOCHS: list[Any] = [0, -60, "1764237600", True]
TEXT_TIMES = [None, -3 * 3600, 3 * 3600]  # status.lastVerifiedAt, from VERIFIED
BOUNDS: list[Any] = [3600, 0, -1, "3600", None]
NOW = VERIFIED + timedelta(hours=2)


def test_the_tab_ages_from_the_epoch_as_the_lua_does_and_from_text_only_without_one(
    tmp_path: Path,
) -> None:
    cases, lua_epochs = [], []
    for epoch in EPOCH_AGES + WRONG_EPOCHS:
        for text in TEXT_TIMES:
            for bound in BOUNDS:
                for audit in (None, {"enabled": False}):
                    tc = truthcheck(audit, "audit")
                    status = tc["status"]
                    status.pop("lastVerifiedEpoch")
                    status.pop("staleAfterSeconds", None)
                    if epoch in WRONG_EPOCHS:
                        status["lastVerifiedEpoch"] = epoch
                    elif epoch is not None:
                        status["lastVerifiedEpoch"] = unix_seconds(NOW) - epoch
                    if text is None:
                        del status["lastVerifiedAt"]
                    else:
                        status["lastVerifiedAt"] = format_time(VERIFIED + timedelta(seconds=text))
                    status["verifiedAt"] = format_time(VERIFIED)
                    if bound is not None:
                        status["staleAfterSeconds"] = bound
                    cases.append(tc)
                    # Without an epoch the tab reads the text time (else verifiedAt): the Lua
                    # would tell the same of that time given as an epoch.
                    lua = copy.deepcopy(tc)
                    if epoch is None:
                        at = VERIFIED + timedelta(seconds=text or 0)
                        lua["status"]["lastVerifiedEpoch"] = unix_seconds(at)
                    lua_epochs.append(lua)
    now = unix_seconds(NOW)
    shown = verdict_age([{"truthcheck": tc, "now": now * 1000} for tc in cases], tmp_path)
    notes = set()
    for tc, lua, tab in zip(cases, lua_epochs, shown, strict=True):
        message = run_health(SCRIPT, lua, now=now)["message"]
        assert message == "ok" + (f" ({tab['text']})" if tab else ""), tc["status"]
        notes.add(tab["text"] if tab else None)
    # The cases reach no age, a fresh age and the stale warning.
    assert None in notes and "verified 2h ago by audit" in notes
    assert f"verdict is 2h old: {STALE}" in notes and "verified <5m ago by audit" in notes


def _statuses() -> list[tuple[dict[str, Any], int]]:
    """Every case of health_test.yaml (at its ``now``, else at VERIFIED), and published
    verdicts of each kind, with and without fail-sync, at every age above."""
    cases = [
        (yaml.safe_load((HEALTH_DIR / c["inputPath"]).read_text("utf-8")), c.get("now"))
        for c in CASES
    ]
    out = [(obj, now if now is not None else unix_seconds(VERIFIED)) for obj, now in cases]
    for verdict in ("Healthy", "Progressing", "Degraded", "Unknown", "Rolling"):
        for spec in ({}, {"onDivergence": "fail-sync"}, {"audit": {"enabled": False}}):
            for summary in ("2 critical: <b>quota</b> exceeded", ""):
                tc = truthcheck(None, "audit")
                tc["spec"] |= spec
                tc["status"] |= {"verdict": verdict, "summary": summary}
                out += [(tc, unix_seconds(VERIFIED) + age) for age in (-400, 0, 3000, 4000)]
    return out


def test_the_tab_shows_the_health_and_message_the_lua_health_check_gives(
    tmp_path: Path,
) -> None:
    cases = _statuses()
    shown = verdict_age(
        [{"truthcheck": tc, "now": now * 1000} for tc, now in cases], tmp_path, "truthcheckHealth"
    )
    kinds = set()
    for (tc, now), tab in zip(cases, shown, strict=True):
        lua = run_health(SCRIPT, tc, now=now)
        assert tab is not None
        assert {"status": tab["status"], "message": tab["message"]} == lua, tc.get("status")
        note = f" ({tab['note']})" if tab["note"] else ""
        assert tab["message"] == tab["text"] + note
        kinds.add((lua["status"], bool(tab["note"])))
    # The flyout splits the message Argo CD holds into the same text and age note.
    told = [tab for tab in shown if tab is not None]
    split = verdict_age(
        [{"truthcheck": tab["message"], "now": 0} for tab in told], tmp_path, "splitNote"
    )
    for tab, parts in zip(told, split, strict=True):
        assert parts is not None
        assert (parts["text"], parts["note"]) == (tab["text"], tab["note"])
    # The cases reach every health the Lua gives, with and without an age.
    assert kinds >= {(s, n) for s in ("Healthy", "Progressing", "Degraded") for n in (True, False)}
