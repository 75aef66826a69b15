"""The ``truthgate`` command.

Subcommands live one per module and are imported only when invoked, so ``truthgate serve``
does not pay for scipy and ``truthgate replay`` does not pay for gunicorn. Each module exposes
one click command (or group) named in ``_COMMANDS``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from webhooks import __version__
from webhooks.errors import TruthgateError

_COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, help shown in `truthgate --help`)
    "serve": ("webhooks.cli.serve", "Run the validating admission webhook (gunicorn, TLS)."),
    "policy": (
        "webhooks.cli.policy",
        "Work with Rego policies: unit tests, gator suites, evaluate a manifest.",
    ),
    "intents": ("webhooks.cli.intents", "Print or verify the intent ledger."),
    "verify": ("webhooks.cli.verify", "Post-sync verification of one Argo CD application."),
    "replay": ("webhooks.cli.replay", "Judge a saved Evidence document offline."),
    "audit": ("webhooks.cli.audit", "Re-verify TruthChecks between syncs (a controller)."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module = importlib.import_module(_COMMANDS[cmd_name][0])
        command = getattr(module, cmd_name.replace("-", "_"))
        if not isinstance(command, click.Command):
            raise TypeError(f"{module.__name__}.{cmd_name} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text without importing every subcommand module.
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="truthgate")
@click.option(
    "--log-level",
    default=lambda: os.environ.get("TRUTHGATE_LOG_LEVEL", "INFO"),
    show_default="INFO or $TRUTHGATE_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def cli(log_level: str) -> None:
    """truthgate makes GitOps tell the truth."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console-script entry point: domain errors become one line on stderr and exit 2."""
    try:
        cli.main(standalone_mode=True)
    except TruthgateError as e:
        click.echo(f"truthgate: error: {e}", err=True)
        sys.exit(2)
