"""``truthgate replay EVIDENCE.json``: re-judge a saved Evidence document offline.

For postmortems ("what did truthgate see after the 14:02 sync?"), for trying a verdict policy
change against past syncs before shipping it, and for tests. Prints the Verdict as JSON.

Exit codes: 0 it judged (whatever the verdict); 1 the verdict is Degraded and
``--fail-on-degraded`` was given; 2 the evidence or the policy cannot be used (one line on
stderr saying why, raised as a domain error and printed by the CLI's ``main``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from webhooks.cli.report_html import write_report
from webhooks.errors import BadRequestError, TruthgateError, short
from webhooks.verdict.judge import judge
from webhooks.verdict.load import load_evidence
from webhooks.verdict.policy import VerdictPolicy, default_policy

MAX_EVIDENCE_BYTES = 64 * 1024 * 1024  # a namespace's worth of objects fits many times over


def _read(source: str) -> bytes:
    if source == "-":
        data = sys.stdin.buffer.read(MAX_EVIDENCE_BYTES + 1)
        where = "stdin"
    else:
        path = Path(source)
        try:
            with path.open("rb") as f:
                data = f.read(MAX_EVIDENCE_BYTES + 1)
        except OSError as e:
            raise BadRequestError(f"cannot read evidence {source}: {e.strerror or e}") from e
        where = source
    if len(data) > MAX_EVIDENCE_BYTES:
        raise BadRequestError(f"evidence {where} is larger than {MAX_EVIDENCE_BYTES} bytes")
    return data


@click.command()
@click.argument("evidence", metavar="EVIDENCE.json")
@click.option(
    "--verdict-policy",
    "policy_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory of the Rego verdict policy (package truthgate.verdict). "
    "Default: the shipped policies/verdict.",
)
@click.option(
    "--fail-on-degraded",
    is_flag=True,
    help="Exit 1 when the verdict is Degraded (for scripts and CI).",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="OUT.html",
    help="Also write the report as one self-contained HTML page (verdict, findings, charts).",
)
def replay(
    evidence: str, policy_dir: Path | None, fail_on_degraded: bool, html_out: Path | None
) -> None:
    """Judge a saved Evidence document (EVIDENCE.json, or - for stdin) and print the Verdict."""
    document = load_evidence(_read(evidence))
    policy = VerdictPolicy.from_dir(policy_dir) if policy_dir is not None else default_policy()
    try:
        verdict = judge(document, policy=policy)
    except TruthgateError:
        raise
    except Exception as e:  # evidence that passed the checks above yet breaks the judge
        raise BadRequestError(
            f"cannot judge this evidence: {type(e).__name__}: {short(e, 200)}"
        ) from e
    if html_out is not None:
        write_report(html_out, document, verdict)
    click.echo(json.dumps(verdict, indent=2, ensure_ascii=False))
    if fail_on_degraded and verdict["verdict"] == "Degraded":
        sys.exit(1)
