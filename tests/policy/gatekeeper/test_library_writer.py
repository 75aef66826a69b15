"""The benchmark's library writer: one constraint per template, dryrun, broken ones skipped."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.gatekeeper_library import write_library
from tests.policy.gatekeeper.conftest import POLICIES, deployment, request
from webhooks.policy.engine import EnforcementAction
from webhooks.policy.gatekeeper.engine import GatekeeperEngine

CONSTRAINTS = list(yaml.safe_load_all((POLICIES / "constraints.yaml").read_text()))


def lay_out(root: Path, name: str, template: str, constraint: dict[str, object]) -> None:
    sample = root / "library" / "general" / name / "samples" / "first"
    sample.mkdir(parents=True)
    (sample.parent.parent / "template.yaml").write_text(template)
    (sample / "constraint.yaml").write_text(yaml.safe_dump(constraint))


def test_every_loadable_template_gets_its_first_sample_as_dryrun(tmp_path: Path) -> None:
    lay_out(
        tmp_path,
        "requiredlabels",
        (POLICIES / "requiredlabels-template.yaml").read_text(),
        CONSTRAINTS[0],
    )
    lay_out(
        tmp_path,
        "broken",
        (POLICIES / "containerlimits-template.yaml").read_text().replace("not container.", "(("),
        CONSTRAINTS[2],
    )
    loaded, skipped = write_library(tmp_path, tmp_path / "out", [request(deployment())])
    assert loaded == 1
    assert len(skipped) == 1 and skipped[0].startswith("general/broken: ")
    engine = GatekeeperEngine(tmp_path / "out")
    (outcome,) = engine.evaluate("Deployment", {"request": request(deployment(labels={}))})
    assert outcome.action is EnforcementAction.DRYRUN
    assert outcome.denials == ('[must-have-owner] you must provide labels: ["owner"]',)
