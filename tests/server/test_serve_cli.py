"""``truthgate serve`` refuses a bad start with one clear line (exit 2), before any worker forks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.reviews import POLICIES
from tests.server.served import truthgate
from webhooks.cli.options import default_policy_dir


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
