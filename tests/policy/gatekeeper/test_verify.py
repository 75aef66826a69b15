"""``truthgate policy verify``: gator Suites, reported like ``gator verify``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.policy.gatekeeper.conftest import HERE
from webhooks.cli.policy import policy
from webhooks.errors import PolicyError
from webhooks.policy.gatekeeper.suite import check_assertion, expected_count

SUITES, FAILING = HERE / "suites", HERE / "failing"


def verify(*args: str) -> Result:
    return CliRunner().invoke(policy, ["verify", *args])


def test_a_passing_suite_exits_0_with_the_closing_count() -> None:
    result = verify(str(SUITES / "suite.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2].startswith(f"ok\t{SUITES / 'suite.yaml'}\t")
    assert result.output.splitlines()[-1] == "4 passed, 0 failed, 1 skipped"


def test_failures_are_reported_per_case_and_exit_1() -> None:
    result = verify(str(FAILING))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("    --- FAIL: owned-said-to-violate\t(")
    assert lines[1] == "        got 0 violations but want at least 1: got messages []"
    assert lines[2].startswith("    --- FAIL: unowned-said-to-pass\t(")
    assert lines[3] == (
        "        got 1 violations but want none: got messages "
        "['you must provide labels: [\"owner\"]']"
    )
    assert lines[4].startswith("--- FAIL: wrong-expectations\t(")
    assert lines[5].startswith("FAIL\t")
    assert lines[-1] == "1 passed, 2 failed"


def test_verbose_lists_every_case_and_directories_are_searched() -> None:
    result = verify("-v", str(HERE))
    assert "    --- PASS: delete-reviews-the-old-object\t(" in result.output
    assert "    === SKIP  not-yet" in result.output
    assert result.output.splitlines()[-1] == "8 passed, 2 failed, 1 skipped"


def test_run_selects_cases_by_test_and_case_name() -> None:
    result = verify("--run", "must-have-owner/unowned$", str(HERE))
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "1 passed, 0 failed"


def test_a_missing_template_fails_its_cases_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(
        (SUITES / "suite.yaml").read_text().replace("../policies/", str(tmp_path) + "/nope/")
    )
    for name in (
        "constraint.yaml",
        "owned.yaml",
        "unowned.yaml",
        "pod.yaml",
        "delete-unowned.yaml",
    ):
        (tmp_path / name).write_text((SUITES / name).read_text())
    result = verify(str(tmp_path))
    assert result.exit_code == 1
    assert "cannot read" in result.output
    assert result.output.splitlines()[-1] == "0 passed, 4 failed, 1 skipped"


def test_nothing_to_verify_is_an_error(tmp_path: Path) -> None:
    assert verify(str(tmp_path)).exit_code == 1
    assert verify(str(tmp_path / "absent")).exit_code == 2


@pytest.mark.parametrize(
    ("written", "count"),
    [(True, "yes"), ("yes", "yes"), (None, "yes"), (False, "no"), ("no", "no"), (0, 0), (3, 3)],
)
def test_violations_read_yes_no_or_a_number(written: object, count: object) -> None:
    assert expected_count(written) == count


def test_a_bad_violations_value_is_an_error() -> None:
    with pytest.raises(PolicyError, match="nonnegative integer"):
        expected_count(-1)


def test_message_is_a_regular_expression_over_the_violations() -> None:
    messages = ["container <a> has no limit", "container <b> has no limit"]
    assert check_assertion({"violations": 2, "message": "container <.> has"}, messages) is None
    assert check_assertion({"violations": "no", "message": "^limit"}, messages) is None
    error = check_assertion({"violations": 1, "message": "no limit"}, messages)
    assert error is not None and error.startswith(
        "got 2 violations containing 'no limit' but want exactly 1"
    )
