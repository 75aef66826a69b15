"""Every truthgate command line the manifests run is one the CLI accepts: the hook Jobs of
argocd/hook/ and of the chart, and the webhook container (which test_chart_serves.py also runs)."""

from __future__ import annotations

import click
import pytest
import yaml

from tests.deploy.conftest import CHART, ROOT, Manifest, kustomize, render
from webhooks.cli.serve import serve
from webhooks.cli.verify import verify

SELF_VERIFY = yaml.safe_load((CHART / "ci" / "self-verify-values.yaml").read_text())


def containers(docs: list[Manifest]) -> list[tuple[str, list[str]]]:
    out = []
    for doc in docs:
        if doc["kind"] in {"Job", "Deployment"}:
            for c in doc["spec"]["template"]["spec"]["containers"]:
                if c["image"].split("/")[-1].split(":")[0] != "truthgate":
                    continue  # the example application's own containers
                out.append((f"{doc['kind']}/{doc['metadata']['name']}", c["args"]))
    return out


COMMANDS = [
    *containers(kustomize(ROOT / "argocd" / "examples" / "shop-web" / "base")),
    *containers(render(SELF_VERIFY)),
    *containers(render(yaml.safe_load((CHART / "ci" / "ha-postgres-values.yaml").read_text()))),
]


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_the_cli_accepts_the_command_line(where: str, args: list[str]) -> None:
    command = {"verify": verify, "serve": serve}[args[0]]
    try:
        with command.make_context(args[0], list(args[1:])) as ctx:
            assert ctx.params  # parsed into the command's parameters
    except click.UsageError as e:
        pytest.fail(f"{where}: truthgate {' '.join(args)}: {e.format_message()}")


def test_every_hook_and_the_webhook_are_covered() -> None:
    names = {w for w, _ in COMMANDS}
    assert {"Job/truthgate-mark-pending", "Job/truthgate-verify", "Deployment/truthgate"} <= names
