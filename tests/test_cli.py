"""The `truthgate` command as a user first meets it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from webhooks.cli import cli


def test_help_lists_every_subcommand_without_importing_them() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from webhooks.cli import main; sys.argv=['truthgate','--help']; main()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for name in ("serve", "policy", "intents", "verify", "replay"):
        assert f"  {name}" in out.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "webhooks", "nonsense"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert "No such command" in out.stderr


def test_serve_help_names_the_failure_mode_the_server_really_defaults_to() -> None:
    from webhooks.admission.config import AdmissionConfig

    out = subprocess.run(
        [sys.executable, "-m", "webhooks", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    help_text = " ".join(out.stdout.split()).split("--failure-mode", 1)[1]
    assert f"$TRUTHGATE_FAILURE_MODE; {AdmissionConfig().failure_mode}]" in help_text


README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_command_rows() -> list[str]:
    text = README.read_text(encoding="utf-8").split("## Commands", 1)[1].split("\n## ", 1)[0]
    return [line for line in text.splitlines() if line.startswith("| `truthgate ")]


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command a `truthgate a b …` span names, and the words after its name."""
    command: click.Command = cli
    path = ["truthgate"]
    while words and isinstance(command, click.Group):
        with click.Context(command, info_name=" ".join(path)) as ctx:
            sub = command.get_command(ctx, words[0])
        if sub is None:
            break
        command, path, words = sub, [*path, words[0]], words[1:]
    return command, words


def _usage(command: click.Command, name: str) -> str:
    with click.Context(command, info_name=name) as ctx:
        return command.get_usage(ctx)


@pytest.mark.parametrize("row", _readme_command_rows(), ids=lambda r: r.split("`")[1])
def test_every_flag_and_argument_the_readme_commands_table_names_exists(row: str) -> None:
    spans = re.findall(r"`([^`]+)`", row.replace("\\|", "|"))
    row_command, rest = _resolve(spans[0].split()[1:])
    # Positional arguments as the table writes them appear in the command's own usage line.
    words = [w.strip("[]") for w in rest]
    positionals = [
        w
        for i, w in enumerate(words)
        if w.isupper() and (i == 0 or not words[i - 1].startswith("-"))
    ]
    usage = _usage(row_command, " ".join(spans[0].split()[1:3]))
    for arg in positionals:
        assert arg in usage.replace("[", " ").replace("]", " ").split(), (spans[0], usage)
    for span in spans:
        words = span.replace("[", " ").replace("]", " ").split()
        if words[0] == "truthgate":
            command, _ = _resolve(words[1:])
        elif words[0] == row_command.name:  # `intents verify …`: a subcommand of the row's
            command, _ = _resolve(words)
        else:
            command = row_command
        known = {o for p in command.params for o in p.opts}
        for word in words:
            for flag in re.findall(r"(?<![\w-])--?[a-z][\w-]*", word):
                assert flag in known, (
                    f"{flag} (README: {span!r}) is not an option of {command.name}"
                )


PAGES = [README, *sorted((README.parent / "docs").glob("*.md")), README.parent / "CONTRIBUTING.md"]
_LINE = re.compile(
    r"(?:^|\$ |\| |&& )(truthgate (?:serve|policy|intents|verify|replay|audit)\b[^|#]*)"
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_truthgate_command_line_on_a_page_uses_flags_the_cli_takes(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    lines = re.findall(r"`(truthgate [^`]+)`", text)
    lines += [m.group(1) for line in text.splitlines() if (m := _LINE.search(line))]
    for line in lines:
        words = line.replace("\\", " ").replace("[", " ").replace("]", " ").split()[1:]
        command, rest = _resolve(words)
        if command is cli:
            continue  # `truthgate --log-level L serve`, prose
        known = {o for p in command.params for o in p.opts} | {"-h", "--help"}
        for word in rest:
            for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[a-zA-Z])(?![\w-])", word):
                assert flag in known, f"{page.name}: {line!r}: {flag} is not an option of it"
