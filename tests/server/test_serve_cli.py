"""``truthgate serve`` refuses a bad start with one clear line (exit 2), before any worker forks."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from tests.server.reviews import POLICIES, ROOT
from tests.server.served import truthgate
from webhooks.cli import cli
from webhooks.cli.options import default_policy_dir
from webhooks.cli.serve import serve


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--policies", "no/such/dir"], "policy directory no/such/dir does not exist"),
        (["--bind", "8443"], "is not HOST:PORT"),
        (["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
        (["--engine", "gatekeeper"], "unknown policy engine 'gatekeeper'"),
        (["--ledger", "mysql://db/x"], "unsupported ledger URL scheme 'mysql'"),
        (["--failure-mode", "fail-maybe"], "'fail-maybe' is not one of"),
        (["--enforcement", "missing.yaml"], "cannot read enforcement config missing.yaml"),
    ],
)
def test_a_bad_start_is_one_clear_error(tmp_path: Path, args: list[str], says: str) -> None:
    out = truthgate("serve", "--policies", str(POLICIES), *args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert says in out.stderr
    assert "Traceback" not in out.stderr


def test_a_short_read_api_token_stops_the_start_before_the_api_is_announced(
    tmp_path: Path,
) -> None:
    (tmp_path / "token").write_text("too-short\n")
    out = truthgate("serve", "--read-api-token-file", "token", cwd=tmp_path)
    assert out.returncode == 2
    assert "token in token must be at least 16 characters long" in out.stderr
    assert "read API on" not in out.stdout


def test_a_broken_policy_stops_the_start_naming_the_file(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text("package truthgate.admission.broken\n\ndeny contains")
    out = truthgate("serve", "--policies", str(policies), cwd=tmp_path)
    assert out.returncode == 2
    assert "broken.rego" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_policy_directory_is_the_local_one_when_present(tmp_path: Path) -> None:
    (tmp_path / "policies" / "admission").mkdir(parents=True)
    assert default_policy_dir(tmp_path) == tmp_path / "policies" / "admission"


def test_else_the_policy_directory_shipped_with_the_source_tree(tmp_path: Path) -> None:
    assert default_policy_dir(tmp_path) == POLICIES


def _flag_table() -> list[list[str]]:
    page = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")
    table = page.split("### Flags and environment", 1)[1].split("\n\n", 2)[1]
    return [
        [c.strip() for c in row.strip().strip("|").split("|")] for row in table.splitlines()[2:]
    ]


@pytest.mark.parametrize("row", [r for r in _flag_table() if "--" in r[0]], ids=lambda r: r[0])
def test_the_webhook_page_flag_table_is_what_serve_takes(row: list[str]) -> None:
    flags, env, default = row[0], row[1].strip("`"), row[2]
    params = {o: p for command in (cli, serve) for p in command.params for o in p.opts}
    names = re.findall(r"--[a-z][\w-]*", flags)
    assert names and all(n in params for n in names), flags
    param = params[names[0]]
    assert isinstance(param, click.Option)
    if env:  # the variable is read (by click, or by a default that reads it), and help names it
        # (TRUTHGATE_FAILURE_MODE is read with the enforcement file: see test_config.py)
        assert param.envvar == env or callable(param.default) or names[0] == "--failure-mode"
        assert env in f"{param.help} {param.show_default}", f"--help of {flags} does not name {env}"
    shown = re.fullmatch(r"`([^`]+)`", default)
    if shown and not callable(param.default) and param.default is not None:
        value = param.default
        assert str(value) == shown.group(1) or (
            isinstance(value, float) and value == float(shown.group(1))
        ), (flags, value, default)
