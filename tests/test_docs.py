"""The docs' transcripts that need no cluster and no server, run as printed.

Each ``$`` line that the page shows output for runs in a shell, in a directory laid out like a
checkout (``docs``, ``tests``, ``policies``), and prints what the page shows
(tests/support/transcripts.py says how ``…`` reads). The README and docs/webhook.md's
walk-through, which need a running server, are run by tests/server/test_readme.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.transcripts import blocks, fenced, reads_as, section, steps

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)

# name: (page, section, which of its transcripts; None for all)
TRANSCRIPTS: dict[str, tuple[str, str, int | None]] = {
    "policy eval": ("policies.md", "What the webhook would answer: `truthgate policy eval`", None),
    "policy test": ("policies.md", "Testing policies: `truthgate policy test`", 0),
    "policy verify": ("gatekeeper.md", "`truthgate policy verify`: gator suites", None),
    "replay": ("verification.md", "`truthgate replay`: postmortems and policy changes", None),
    "serve refuses a bad start": ("webhook.md", "Run it", 1),
}


def _checkout(cwd: Path) -> Path:
    for name in ("docs", "tests", "policies"):
        (cwd / name).symlink_to(ROOT / name)
    return cwd


def _run(cwd: Path, transcripts: list[str]) -> None:
    ran = 0
    for block in transcripts:
        for command, shown in steps(block):
            if not shown.strip():
                continue  # nothing shown, nothing promised (and often a cluster needed)
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command],
                cwd=cwd,
                env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            printed = done.stdout + done.stderr  # what the terminal shows
            assert reads_as(shown, printed), (command, shown, printed)
            ran += 1
    assert ran, "no transcript step with output"


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_the_transcript_prints_what_the_page_shows(name: str, tmp_path: Path) -> None:
    page, title, which = TRANSCRIPTS[name]
    found = blocks(section((ROOT / "docs" / page).read_text(encoding="utf-8"), title))
    _run(_checkout(tmp_path), found if which is None else [found[which]])


def test_the_new_policy_walkthrough_works_as_written(tmp_path: Path) -> None:
    # Follow docs/policies.md: copy the policies, write the NodePort policy of "Writing a
    # policy", the Service manifest and the test the walk-through gives, then run its commands.
    page = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    walk = section(page, "Walk-through: a new policy from manifest to coverage")
    assert "cp -r policies my-policies" in walk
    cwd = _checkout(tmp_path)
    shutil.copytree(ROOT / "policies", cwd / "my-policies")
    [policy] = [b for lang, b in fenced(section(page, "Writing a policy")) if lang == "rego"]
    (cwd / "my-policies" / "admission" / "no_nodeport.rego").write_text(policy)
    [service] = [b for lang, b in fenced(walk) if lang == "yaml"]
    assert service.startswith("# service.yaml\n")
    (cwd / "service.yaml").write_text(service)
    [test] = [b for lang, b in fenced(walk) if lang == "rego"]
    assert "my-policies/admission/no_nodeport_test.rego" in walk
    (cwd / "my-policies" / "admission" / "no_nodeport_test.rego").write_text(test)
    _run(cwd, blocks(walk))
