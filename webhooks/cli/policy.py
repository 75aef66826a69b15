"""``truthgate policy``: work with Rego policies. ``test`` runs their unit tests like ``opa test``;
``eval`` (webhooks/cli/policy_eval.py) shows what the webhook would answer for a manifest;
``verify`` (webhooks/cli/policy_verify.py) runs gator Suites.

Exit codes of ``test``: 0 all tests pass; 1 a test failed or errored (or none matched); 2 the
policies do not load (the message names the file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from webhooks.cli.policy_eval import eval_command
from webhooks.cli.policy_verify import verify
from webhooks.common.durations import format_duration
from webhooks.errors import PolicyError
from webhooks.policy.testing import TestRun, line_ranges, run_tests


@click.group()
def policy() -> None:
    """Work with Rego policies."""


def _report(run: TestRun, verbose: bool) -> None:
    current_file = None
    for result in run.results:
        if not verbose and result.status in ("PASS", "SKIPPED"):
            continue
        if verbose and result.case.file != current_file:
            current_file = result.case.file
            click.echo(f"{current_file}:")
        line = f"{result.case.name}: {result.status} ({format_duration(result.seconds, largest=2)})"
        click.echo(("  " if verbose else "") + line)
        if result.detail:
            click.echo(f"    {result.detail}")
        if result.status != "PASS" or verbose:
            for printed in result.prints:
                click.echo(f"    print: {printed}")
    if run.counted or run.results:
        click.echo("-" * 80)
    total = run.counted
    if run.failed:
        click.echo(f"FAIL: {run.failed}/{total}")
    else:
        click.echo(f"PASS: {total}/{total}")
    skipped = len(run.results) - run.counted
    if skipped:
        click.echo(f"SKIPPED: {skipped}/{len(run.results)}")


def _report_coverage(run: TestRun) -> None:
    if run.coverage is None:
        return
    click.echo("")
    click.echo("Coverage (lines of policy files evaluated by the tests):")
    covered = not_covered = 0
    width = max((len(c.path) for c in run.coverage), default=10)
    for c in run.coverage:
        covered += len(c.covered)
        not_covered += len(c.not_covered)
        missing = f"  not covered: {line_ranges(c.not_covered)}" if c.not_covered else ""
        click.echo(f"  {c.path:<{width}}  {c.percent:5.1f}%{missing}")
    total = covered + not_covered
    percent = 100.0 if total == 0 else 100.0 * covered / total
    click.echo(f"  {'total':<{width}}  {percent:5.1f}% ({covered}/{total} lines)")


@policy.command("test")
@click.argument(
    "directory",
    required=False,
    default="policies",
    metavar="[DIR]",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--coverage", is_flag=True, help="Report which policy lines the tests evaluate.")
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only failures.")
@click.option(
    "--run",
    "pattern",
    metavar="REGEX",
    help="Only tests whose name (data.<pkg>.<rule>) matches.",
)
def test(directory: Path, coverage: bool, verbose: bool, pattern: str | None) -> None:
    """Run every test_* rule of the Rego under DIR (default: policies)."""
    try:
        run = run_tests(directory, pattern=pattern, coverage=coverage)
    except PolicyError as e:
        click.echo(f"truthgate: error: {e}", err=True)
        sys.exit(2)
    if not run.results:
        click.echo(
            f"no tests found under {directory}" + (f" matching {pattern!r}" if pattern else ""),
            err=True,
        )
        sys.exit(1)
    _report(run, verbose)
    _report_coverage(run)
    sys.exit(1 if run.failed else 0)


policy.add_command(verify)
policy.add_command(eval_command, "eval")
