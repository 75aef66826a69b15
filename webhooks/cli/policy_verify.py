"""``truthgate policy verify SUITE_OR_DIR...``: run Gatekeeper ``gator verify`` Suites.

Output follows ``gator verify``: failures always (``--- FAIL: <case>`` with why), every test and
case with ``-v``, a line per suite file (``ok`` / ``FAIL``), then ``N passed, M failed``.
Exit codes: 0 every case passed; 1 a case failed (or none was found); 2 bad arguments.
"""

from __future__ import annotations

import re
import sys
from itertools import groupby
from pathlib import Path

import click

from webhooks.common.durations import format_duration
from webhooks.errors import PolicyError
from webhooks.policy.gatekeeper.suite import CaseResult, run_suites


def _report(results: list[CaseResult], verbose: bool) -> None:
    for suite, in_suite in groupby(results, key=lambda r: r.suite):
        suite_results = list(in_suite)
        for test, in_test in groupby(suite_results, key=lambda r: r.test):
            cases = list(in_test)
            if verbose:
                click.echo(f"=== RUN   {test}")
            for r in cases:
                if r.skipped:
                    if verbose:
                        click.echo(f"    === SKIP  {r.case}")
                    continue
                if verbose:
                    click.echo(f"    === RUN   {r.case}")
                if r.error is not None:
                    click.echo(f"    --- FAIL: {r.case}\t({format_duration(r.seconds, largest=2)})")
                    click.echo(f"        {r.error}")
                elif verbose:
                    click.echo(f"    --- PASS: {r.case}\t({format_duration(r.seconds, largest=2)})")
            took = format_duration(sum(r.seconds for r in cases), largest=2)
            if any(r.error is not None for r in cases):
                click.echo(f"--- FAIL: {test}\t({took})")
            elif verbose:
                click.echo(f"--- PASS: {test}\t({took})")
        failed = any(r.error is not None for r in suite_results)
        took = format_duration(sum(r.seconds for r in suite_results), largest=2)
        click.echo(f"{'FAIL' if failed else 'ok'}\t{suite}\t{took}")


@click.command("verify")
@click.argument(
    "paths", nargs=-1, required=True, metavar="SUITE_OR_DIR...", type=click.Path(path_type=Path)
)
@click.option("-v", "--verbose", is_flag=True, help="List every test and case, not only failures.")
@click.option(
    "--run",
    "pattern",
    metavar="REGEX",
    help="Only cases whose <test>/<case> name matches.",
)
def verify(paths: tuple[Path, ...], verbose: bool, pattern: str | None) -> None:
    """Run the gator Suites in SUITE_OR_DIR... (directories are searched for kind: Suite)."""
    try:
        selected = re.compile(pattern) if pattern else None
    except re.error as e:
        raise click.BadParameter(f"not a regular expression: {e}", param_hint="--run") from e
    try:
        run = run_suites(list(paths), selected)
    except PolicyError as e:
        click.echo(f"truthgate: error: {e}", err=True)
        sys.exit(2)
    if not run.results:
        click.echo("no Suite cases found", err=True)
        sys.exit(1)
    _report(run.results, verbose)
    skipped = f", {run.skipped} skipped" if run.skipped else ""
    click.echo(f"{run.passed} passed, {run.failed} failed{skipped}")
    sys.exit(1 if run.failed else 0)
