"""`truthgate policy test`: output like `opa test`, exit codes CI can rely on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.policy.conftest import POLICIES
from webhooks.cli.policy import policy

POLICY = """# METADATA
# title: Names
# description: Names must not be "bad".
# custom:
#   kinds: [ConfigMap]
package truthgate.admission.names

deny contains "bad name" if input.request.name == "bad"
"""

UNTESTED = """package truthgate.admission.untested

deny contains "never" if {
	input.request.name == "never"
}
"""

PASSING_TESTS = """package truthgate.admission.names_test

import data.truthgate.admission.names

test_bad_is_denied if {
	names.deny == {"bad name"} with input as {"request": {"name": "bad"}}
}

test_good_is_allowed if {
	count(names.deny) == 0 with input as {"request": {"name": "good"}}
}
"""

FAILING_TEST = """package truthgate.admission.names_more_test

import data.truthgate.admission.names

test_good_is_denied_wrongly if {
	got := names.deny with input as {"request": {"name": "good"}}
	print("got", got)
	got == {"bad name"}
}

test_errors_at_runtime if {
	x := to_number("not a number")
	x > 0
}

todo_test_later if false
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(policy, ["test", *args])
    return result.exit_code, result.output


@pytest.fixture
def passing(tmp_path: Path) -> Path:
    (tmp_path / "names.rego").write_text(POLICY)
    (tmp_path / "names_test.rego").write_text(PASSING_TESTS)
    return tmp_path


def test_passing_directory_exits_0_and_prints_the_summary(passing: Path) -> None:
    code, out = run(str(passing))
    assert code == 0, out
    assert out.strip().endswith("PASS: 2/2")
    assert "test_bad_is_denied" not in out  # only failures without -v


def test_verbose_lists_every_test_with_its_time(passing: Path) -> None:
    code, out = run(str(passing), "-v")
    assert code == 0
    assert "names_test.rego:" in out
    lines = [ln.strip() for ln in out.splitlines() if "data." in ln]
    assert lines[0].startswith("data.truthgate.admission.names_test.test_bad_is_denied: PASS (")
    assert lines[0].endswith("s)")
    assert len(lines) == 2


def test_a_failing_test_exits_1_naming_it(passing: Path) -> None:
    (passing / "more_test.rego").write_text(FAILING_TEST)
    code, out = run(str(passing))
    assert code == 1
    assert "data.truthgate.admission.names_more_test.test_good_is_denied_wrongly: FAIL" in out
    assert "print: more_test.rego:7: got" in out  # what a failing test printed, under it
    assert "data.truthgate.admission.names_more_test.test_errors_at_runtime: ERROR" in out
    assert "FAIL: 2/4" in out
    assert "SKIPPED: 1/5" in out


def test_run_selects_tests_by_regex(passing: Path) -> None:
    (passing / "more_test.rego").write_text(FAILING_TEST)
    code, out = run(str(passing), "--run", "names_test\\.test_good")
    assert code == 0 and "PASS: 1/1" in out
    code, out = run(str(passing), "--run", "nothing-matches")
    assert code == 1 and "no tests found" in out
    code, out = run(str(passing), "--run", "(")
    assert code == 2 and "not a regular expression" in out


def test_load_errors_exit_2_naming_file_and_line(passing: Path) -> None:
    (passing / "sub").mkdir()
    (passing / "sub" / "broken.rego").write_text("package x\n\ndeny contains if {\n")
    code, out = run(str(passing))
    assert code == 2
    assert "sub/broken.rego:3:" in out


def test_missing_directory_exits_2(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in out


def test_coverage_reports_policy_lines_not_the_tests(passing: Path) -> None:
    (passing / "untested.rego").write_text(UNTESTED)
    code, out = run(str(passing), "--coverage")
    assert code == 0
    report = out.split("Coverage", 1)[1]
    assert "names_test.rego" not in report
    lines = {ln.split()[0]: ln for ln in report.splitlines() if ".rego" in ln}
    assert "100.0%" in lines["names.rego"]
    # A policy no test touches shows up, all of it uncovered.
    assert "0.0%" in lines["untested.rego"] and "not covered: 3-5" in lines["untested.rego"]
    assert "total" in report


def test_shipped_policies_pass_with_the_installed_command() -> None:
    # What CI runs, through the real console script and the default directory.
    result = subprocess.run(
        [sys.executable, "-m", "webhooks", "policy", "test"],
        cwd=POLICIES.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RUST_BACKTRACE": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("PASS: ")
