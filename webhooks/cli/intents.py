"""``truthgate intents``: print, verify and prune the intent ledger.

``truthgate intents --ledger URL [--app A] [--namespace N] [--since T] [--until T]`` prints the
records as JSON lines (pipe them to ``jq``); ``intents verify`` walks the hash chain and exits 1
naming the first bad record; ``intents prune --retention-days N`` applies retention by hand.
Read commands never create a ledger: a mistyped path is an error, not a new empty file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from webhooks.common.durations import parse_duration
from webhooks.common.times import format_time, parse_time
from webhooks.errors import BadRequestError
from webhooks.ledger import open_store
from webhooks.ledger.head import read_head_file
from webhooks.ledger.intent import ExpectedHead
from webhooks.ledger.seal import load_key
from webhooks.ledger.store import IntentStore

F = TypeVar("F", bound=Callable[..., Any])


def parse_when(text: str, now: datetime) -> datetime:
    """``2h``, ``1h30m``, ``7d`` (that long before ``now``, spelled as everywhere else in
    truthgate) or an RFC 3339 time."""
    try:
        return now - parse_duration(text.strip())
    except ValueError:
        pass
    try:
        return parse_time(text.strip())
    except BadRequestError as e:
        raise click.BadParameter(
            f"{text!r} is neither RFC 3339 (2026-11-27T10:00:00Z) nor relative (30m, 1h30m, 7d)"
        ) from e


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    # A callback rather than a ParamType subclass: ParamType became generic in click 8.2.
    return None if value is None else parse_when(value, datetime.now(UTC))


def _app_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # NS/NAME (as the argocd CLI and `verify --app` write it) is never a key: say which is.
    if value is not None and "/" in value:
        namespace, _, name = value.rpartition("/")
        raise click.BadParameter(
            "the ledger records applications as Argo CD's tracking names them: "
            f"'{name}' for one in Argo CD's own namespace, '{namespace}_{name}' for one in "
            f"namespace '{namespace}'"
        )
    return value


def _ledger_option(f: F) -> F:
    return click.option(
        "--ledger",
        envvar="TRUTHGATE_LEDGER",
        metavar="URL",
        help="Ledger: a SQLite path, sqlite:…, or postgresql://… [env TRUTHGATE_LEDGER]",
    )(f)


def _open(ctx: click.Context, ledger: str | None, key: bytes | None = None) -> IntentStore:
    url = ledger or (ctx.obj or {}).get("ledger")
    if not url:
        raise click.UsageError("--ledger URL (or TRUTHGATE_LEDGER) is required")
    store = open_store(url, create=False, key=key)
    ctx.call_on_close(store.close)
    return store


@click.group("intents", invoke_without_command=True)
@_ledger_option
@click.option(
    "--app",
    callback=_app_key,
    help="Only records of this Argo CD application, named as its tracking names it: NAME, or "
    "NAMESPACE_NAME for one outside Argo CD's namespace.",
)
@click.option("--namespace", help="Only records for objects in this namespace.")
@click.option(
    "--since", callback=_when, metavar="TIME", help="From this time: RFC 3339, or 30m/2h/7d ago."
)
@click.option(
    "--until", callback=_when, metavar="TIME", help="Up to this time: RFC 3339, or 30m/2h/7d ago."
)
@click.pass_context
def intents(
    ctx: click.Context,
    *,
    ledger: str | None,
    app: str | None,
    namespace: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Print intent records as JSON lines, oldest first."""
    ctx.ensure_object(dict)
    ctx.obj["ledger"] = ledger
    if ctx.invoked_subcommand is not None:
        return
    store = _open(ctx, ledger)
    try:
        for record in store.intents(app=app, namespace=namespace, since=since, until=until):
            sys.stdout.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `truthgate intents | head`: the reader has what it wanted
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        ctx.exit(0)


@intents.command("verify")
@_ledger_option
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    envvar="TRUTHGATE_LEDGER_KEY_FILE",
    help="The ledger key: also check the seal over the head and the retention anchor "
    "[env TRUTHGATE_LEDGER_KEY_FILE].",
)
@click.option(
    "--expect-head",
    metavar="HASH[@N]",
    help="A head noted earlier (from the log or a previous verify): it must still be in the "
    "chain (as record N).",
)
@click.option(
    "--head-file",
    type=click.Path(dir_okay=False),
    help="The head file the webhook publishes [default for SQLite: LEDGER.head, if present].",
)
@click.pass_context
def verify(
    ctx: click.Context,
    ledger: str | None,
    key_file: str | None,
    expect_head: str | None,
    head_file: str | None,
) -> None:
    """Walk the hash chain; exit 1 naming the first record that does not verify."""
    key = load_key(key_file) if key_file else None
    store = _open(ctx, ledger, key)
    expect = _parse_expected(expect_head) if expect_head else None
    published_from = head_file or getattr(store, "head_file", None)
    published = read_head_file(published_from) if published_from else None
    if head_file and published is None:
        raise click.BadParameter(f"no head file at {head_file}", param_hint="--head-file")
    expect_here = expect
    if expect is None and published is not None:
        expect_here = ExpectedHead(published.hash, published.appended)
    report = store.verify(expect_here)
    if published is not None:
        kept = report.pruned + report.records if report.ok else published.appended
        problem = published.contradicts(report.ledger_id, kept)
        if problem is not None:
            report = replace(report, ok=False, first_bad=None, reason=f"the ledger {problem}")
    pruned = f" (after {report.pruned} pruned by retention)" if report.pruned else ""
    if report.ok:
        checks = []
        if expect is not None:
            checks.append("holds the expected head")
        if published is not None:
            checks.append(f"matches the head file {published_from}")
        checks.append(
            "sealed with the ledger key"
            if report.sealed
            else "NOT checked against a key (tamper-evident only)"
        )
        click.echo(
            f"chain OK: {report.records} records{pruned}, head {report.head}; " + "; ".join(checks)
        )
        return
    where = f"at record {report.first_bad}: " if report.first_bad else ": "
    click.echo(
        f"chain BROKEN {where}{report.reason} ({report.records} records verified before it{pruned})"
    )
    ctx.exit(1)


def _parse_expected(text: str) -> ExpectedHead:
    hash_, _, position = text.strip().partition("@")
    if not re.fullmatch(r"[0-9a-f]{64}", hash_):
        raise click.BadParameter(
            "expected 64 lowercase hex digits (a head hash), optionally @N",
            param_hint="--expect-head",
        )
    if position and not position.isdigit():
        raise click.BadParameter("N in HASH@N must be a record count", param_hint="--expect-head")
    return ExpectedHead(hash_, int(position) if position else None)


@intents.command("prune")
@_ledger_option
@click.option(
    "--retention-days",
    type=click.IntRange(min=1),
    required=True,
    envvar="TRUTHGATE_RETENTION_DAYS",
    help="Drop records older than this many days (the chain stays verifiable).",
)
@click.pass_context
def prune(ctx: click.Context, ledger: str | None, retention_days: int) -> None:
    """Apply retention now (the webhook also does it hourly when configured)."""
    cut = datetime.now(UTC) - timedelta(days=retention_days)
    dropped = _open(ctx, ledger).prune(cut)
    click.echo(f"pruned {dropped} records older than {format_time(cut)}")
