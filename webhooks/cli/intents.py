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
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from webhooks.errors import BadRequestError
from webhooks.ledger import open_store
from webhooks.ledger.intent import parse_time
from webhooks.ledger.store import IntentStore

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")


def parse_when(text: str, now: datetime) -> datetime:
    """``2h``, ``30m``, ``7d`` (that long before ``now``) or an RFC 3339 time."""
    match = _RELATIVE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return parse_time(text.strip())
    except BadRequestError as e:
        raise click.BadParameter(
            f"{text!r} is neither RFC 3339 (2026-11-27T10:00:00Z) nor relative (30m, 2h, 7d)"
        ) from e


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    # A callback rather than a ParamType subclass: ParamType became generic in click 8.2.
    return None if value is None else parse_when(value, datetime.now(UTC))


def _ledger_option(f: F) -> F:
    return click.option(
        "--ledger",
        envvar="TRUTHGATE_LEDGER",
        metavar="URL",
        help="Ledger: a SQLite path, sqlite:…, or postgresql://… [env TRUTHGATE_LEDGER]",
    )(f)


def _open(ctx: click.Context, ledger: str | None) -> IntentStore:
    url = ledger or (ctx.obj or {}).get("ledger")
    if not url:
        raise click.UsageError("--ledger URL (or TRUTHGATE_LEDGER) is required")
    store = open_store(url, create=False)
    ctx.call_on_close(store.close)
    return store


@click.group("intents", invoke_without_command=True)
@_ledger_option
@click.option("--app", help="Only records of this Argo CD application.")
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
@click.pass_context
def verify(ctx: click.Context, ledger: str | None) -> None:
    """Walk the hash chain; exit 1 naming the first record that does not verify."""
    report = _open(ctx, ledger).verify()
    pruned = f" (after {report.pruned} pruned by retention)" if report.pruned else ""
    if report.ok:
        click.echo(f"chain OK: {report.records} records{pruned}, head {report.head}")
        return
    click.echo(
        f"chain BROKEN at record {report.first_bad}: {report.reason} "
        f"({report.records} records verified before it{pruned})"
    )
    ctx.exit(1)


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
    click.echo(f"pruned {dropped} records older than {cut.isoformat(timespec='seconds')}")
