"""The README, run as printed: its first two commands and the "Try it locally" transcript;
docs/webhook.md's curl walk-through; and the shapes those pages promise (the metrics table, the
intent record of docs/architecture.md).

Every ``$`` line of a section's console blocks runs in a shell, in a directory that holds
the repository's ``docs``, ``tests`` and ``policies`` as a checkout does, and its output must
read as the page shows it (tests/support/transcripts.py: ``…`` stands for what differs between
runs). The only change to the commands is the port: the server listens on a free one, and
``127.0.0.1:8443`` in the commands and outputs is rewritten to it (the default itself is
checked against ``serve --help``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.reviews import ROOT, deployment_update
from tests.server.served import TRUTHGATE, Served, start, truthgate
from tests.support.transcripts import blocks, fenced, reads_as, section, steps

pytestmark = pytest.mark.gunicorn

README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULT_BIND = "127.0.0.1:8443"
WEBHOOK_DOC = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")


@contextlib.contextmanager
def _started_as_the_readme_says(cwd: Path) -> Iterator[Served]:
    """The README's `truthgate serve` in ``cwd``, made to look like the repository's root."""
    for name in ("docs", "tests", "policies"):
        (cwd / name).symlink_to(ROOT / name)
    command, _ = steps(blocks(section(README, "Try it locally"))[0])[0]
    argv = shlex.split(command)
    assert argv[:2] == ["truthgate", "serve"], command
    server = start(cwd, *argv[2:], ca=None)
    try:
        server.ca = cwd / ".truthgate" / "tls" / "tls.crt"
        server.wait_for("/readyz")
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with _started_as_the_readme_says(tmp_path_factory.mktemp("readme")) as server:
        yield server


def _shell(command: str, served: Served) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(TRUTHGATE).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command.replace(DEFAULT_BIND, f"127.0.0.1:{served.port}")],
        cwd=served.cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_first_command_is_the_one_the_walkthrough_starts(served: Served) -> None:
    first = next(b for lang, b in fenced(README) if lang == "sh").splitlines()
    serve_line, claim = first[0].split("#", 1)
    assert serve_line.split("&&")[1].strip() == "truthgate serve --ledger truthgate.db"
    # "the webhook: TLS on 127.0.0.1:8443, SQLite ledger, in-process Rego"
    assert DEFAULT_BIND in claim
    help_text = " ".join(truthgate("serve", "--help", cwd=served.cwd).stdout.split())
    assert f"[default: {DEFAULT_BIND}]" in help_text.split("--bind", 1)[1].split("--", 1)[0]
    assert served.request("GET", "/healthz").status == 200  # over TLS, trusting the printed CA
    assert (served.cwd / "truthgate.db").read_bytes().startswith(b"SQLite format 3\x00")
    assert "(engine regorus)" in served.stdout


def test_tools_test_runs_every_check_the_readme_names() -> None:
    # "every check: installs what it needs, then ruff, mypy, import layers, Rego tests, pytest"
    script = ROOT / "tools" / "test"
    assert os.access(script, os.X_OK)
    runs = [
        line.split(";", 1)[-1].strip()  # `echo "== ruff"; ruff check …` runs what follows
        for line in script.read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    order = [
        "ruff check webhooks tests benchmarks",
        "mypy",
        "lint-imports",
        "truthgate policy test policies",
        'python -m pytest "$@"',
    ]
    found = [next(i for i, r in enumerate(runs) if r.startswith(step)) for step in order]
    assert found == sorted(found)
    assert "exec tools/test" in (ROOT / ".ci" / "run").read_text()  # what CI runs


def test_the_try_it_locally_transcript_prints_what_the_readme_shows(tmp_path: Path) -> None:
    with _started_as_the_readme_says(tmp_path) as served:  # its own ledger: "1 records"
        _run_the_transcript(served)


def _run_the_transcript(served: Served) -> None:
    shown_blocks = blocks(section(README, "Try it locally"))
    serve_output = steps(shown_blocks[0])[0][1].replace(DEFAULT_BIND, f"127.0.0.1:{served.port}")
    printed = served.stdout.splitlines()
    shown = serve_output.splitlines()
    assert len(printed) == len(shown), served.stdout
    for line, actual in zip(shown, printed, strict=True):
        assert reads_as(line, actual), (line, actual)
    _run_steps(served, shown_blocks[1:])


def _run_steps(served: Served, transcripts: list[str]) -> None:
    """Each ``$`` line but the server's own start, and the output shown under it."""
    for block in transcripts:
        for command, output in steps(block):
            if command.startswith("truthgate serve"):
                continue  # running already
            done = _shell(command, served)
            assert done.returncode == 0, (command, done.stderr)
            assert reads_as(output, done.stdout), (command, output, done.stdout)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the page's commands use jq")
def test_the_webhook_pages_curl_walkthrough_prints_what_it_shows(tmp_path: Path) -> None:
    with _started_as_the_readme_says(tmp_path) as served:
        _run_steps(served, blocks(section(WEBHOOK_DOC, "Send a review with curl")))


def test_the_webhook_page_starts_the_server_as_the_readme_does() -> None:
    # One start, shown twice: the README's, run above, and docs/webhook.md's "Run it".
    readme = steps(blocks(section(README, "Try it locally"))[0])[0]
    assert steps(blocks(section(WEBHOOK_DOC, "Run it"))[0])[0] == readme


def test_alice_is_denied_with_the_readme_message_and_break_glass_is_admitted(
    served: Served,
) -> None:
    prose = section(README, "Try it locally").split("Sent by `alice@example.com`", 1)[1]
    message = re.search(r"\*(Deployment shop/web .*?)\*", prose, re.S)
    assert message is not None
    denied = served.review(deployment_update(username="alice@example.com"))
    assert denied["allowed"] is False
    assert denied["status"]["message"] == " ".join(message.group(1).split())

    review = deployment_update(username="alice@example.com")
    annotations = review["request"]["object"]["metadata"]["annotations"]
    annotations["truthgate.dev/break-glass"] = "INC-4711"
    admitted = served.review(review)
    assert admitted["allowed"] is True and admitted["warnings"]
    out = truthgate("intents", "--ledger", "truthgate.db", cwd=served.cwd)
    records = {r["uid"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert records[review["request"]["uid"]]["breakGlass"] == "INC-4711"


def test_metrics_are_the_ones_the_webhook_page_lists(served: Served) -> None:
    table = WEBHOOK_DOC.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(truthgate_\w+)`", table, re.M))
    exposed = set(
        re.findall(r"^# TYPE (\w+) ", served.request("GET", "/metrics").body.decode(), re.M)
    )
    assert listed == {m for m in exposed if m.startswith("truthgate_")}


def _shape(value: object) -> object:
    """Keys all the way down (list items by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list) and value:
        return [_shape(value[0])]
    return type(value).__name__ if value is not None else None


def test_a_recorded_intent_has_the_fields_of_the_architecture_page(served: Served) -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = page.split("- Intent record", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    documented = json.loads(block)
    review = deployment_update()
    assert served.review(review)["allowed"] is True
    out = truthgate("intents", "--ledger", "truthgate.db", cwd=served.cwd)
    records = {r["uid"]: r for r in map(json.loads, out.stdout.splitlines())}
    recorded = records[review["request"]["uid"]]
    assert _shape(recorded) == _shape(documented)
