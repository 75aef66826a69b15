"""The `truthgate` command as a user first meets it."""

from __future__ import annotations

import subprocess
import sys


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
