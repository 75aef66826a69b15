"""The TruthCheck health check, run the way Argo CD runs it (Lua 5.1, Argo CD's sandbox).

Every case of health_test.yaml (Argo CD's own test format) must produce exactly the status and
message it names; together the cases must reach every outcome the script can return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51
import pytest
import yaml

from tests.argocd_health.sandbox import app_health, run_health

HEALTH_DIR = Path(__file__).resolve().parents[2] / "argocd/health/truthgate.dev/TruthCheck"
SCRIPT = (HEALTH_DIR / "health.lua").read_text(encoding="utf-8")
CASES: list[dict[str, Any]] = yaml.safe_load(
    (HEALTH_DIR / "health_test.yaml").read_text(encoding="utf-8")
)["tests"]
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def _obj(case: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((HEALTH_DIR / case["inputPath"]).read_text("utf-8"))
    return doc


@pytest.mark.parametrize("case", CASES, ids=[c["inputPath"] for c in CASES])
def test_each_case_gives_the_status_and_message_it_names(case: dict[str, Any]) -> None:
    got = run_health(SCRIPT, _obj(case), now=case.get("now"))
    assert got == {
        "status": case["healthStatus"]["status"],
        "message": case["healthStatus"]["message"],
    }
    assert got["status"] in ARGO_STATUSES


def test_every_input_file_is_a_case_and_every_case_has_its_file() -> None:
    files = {f"testdata/{p.name}" for p in (HEALTH_DIR / "testdata").glob("*.yaml")}
    assert files == {c["inputPath"] for c in CASES}


def test_cases_reach_every_return_of_the_script() -> None:
    returns = {i for i, line in enumerate(SCRIPT.splitlines(), 1) if "return result(" in line}
    hit: set[int] = set()
    for case in CASES:
        run_health(SCRIPT, _obj(case), now=case.get("now"), on_line=hit.add)
    assert returns and returns <= hit, f"lines never reached: {sorted(returns - hit)}"


def test_the_sandbox_really_lacks_string_and_math() -> None:
    # Guards the guard: a script using either must fail here as it would in Argo CD.
    for body in (
        'return {status = string.upper("x")}',
        "return {status = math.floor(1)}",
        'local s = "abc" return {status = s:sub(1, 1)}',
        "return {status = io.read()}",
        'return {status = os.getenv("HOME")}',
        'return {status = require("os").getenv("HOME")}',
        'return {status = require("string").upper("x")}',
    ):
        with pytest.raises(lupa.lua51.LuaError):
            run_health(body, {})
    assert run_health("return {status = tostring(os.time() > 0)}", {}) == {"status": "true"}
    # Argo CD's safe os: time (now, or from a table) and date, nothing else.
    assert run_health(
        'return {status = tostring(os.time()) .. " " .. os.date("!%Y-%m-%d", os.time()) '
        '.. " " .. tostring(os.time{year=2026, month=11, day=27} > 0)}',
        {},
        now=1795784400,
    ) == {"status": "1795784400 2026-11-27 true"}
    assert run_health(
        "local n = 0 for _ in pairs(os) do n = n + 1 end return {status = tostring(n)}", {}
    ) == {"status": "2"}
    assert run_health("return {status = tostring(os)}", {}, with_os=False) == {"status": "nil"}


def test_awaiting_states_never_block_argo_cds_sync_wait() -> None:
    # Argo CD waits during a sync until each synced resource is Healthy (Degraded fails it);
    # a TruthCheck not yet verified for this sync must therefore be Healthy, never Progressing.
    for name in ("no_status.yaml", "pending.yaml", "generation_behind.yaml"):
        assert run_health(SCRIPT, _obj({"inputPath": f"testdata/{name}"}))["status"] == "Healthy"


@pytest.mark.parametrize("name", ["unknown.yaml", "unrecognised_verdict.yaml"])
def test_when_truthgate_cannot_judge_it_hides_no_other_health(name: str) -> None:
    # A really Degraded Deployment in the same app must still make the app Degraded, and a
    # healthy app must stay healthy: truthgate not judging is not a problem of the app.
    got = run_health(SCRIPT, _obj({"inputPath": f"testdata/{name}"}))
    assert app_health("Degraded", got["status"]) == "Degraded"
    assert app_health("Healthy", got["status"]) == "Healthy"
    assert got["message"].startswith("Not judged by truthgate")
