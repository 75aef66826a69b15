"""The Gatekeeper policy library as a policy set: every template with one of its constraints.

Opt-in: the library is not part of this repository. Check it out anywhere and pass its path
(``--gatekeeper-library PATH`` of admission_bench / policy_eval_bench). Each template directory
under ``library/`` contributes its ``template.yaml`` and its first sample constraint
(``samples/*/constraint.yaml``, sorted), set to ``enforcementAction: dryrun`` so every review is
evaluated in full and still admitted. Templates the embedded engine cannot load are skipped and
listed, and so are templates whose Rego fails at run time on one of the benchmark's reviews
(``probes``): under fail-open such an error would admit every review unevaluated and measure
nothing (docs/gatekeeper.md names them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from webhooks.errors import PolicyError
from webhooks.policy.gatekeeper.engine import build_engine, review_json, violations
from webhooks.policy.gatekeeper.load import build_library, is_constraint, is_template
from webhooks.policy.gatekeeper.review import admission_review


def write_library(
    library: Path, target: Path, probes: Sequence[Mapping[str, Any]] = ()
) -> tuple[int, list[str]]:
    """Write the templates and constraints into ``target``; (loaded, skipped with reasons)."""
    target.mkdir(parents=True, exist_ok=True)
    loaded, skipped = 0, []
    for template_path in sorted((library / "library").rglob("template.yaml")):
        name = template_path.parent.relative_to(library / "library").as_posix()
        samples = sorted(template_path.parent.glob("samples/*/constraint.yaml"))
        if not samples:
            skipped.append(f"{name}: no sample constraint")
            continue
        template = next(d for d in yaml.safe_load_all(template_path.read_text()) if is_template(d))
        constraint = next(d for d in yaml.safe_load_all(samples[0].read_text()) if is_constraint(d))
        constraint.setdefault("spec", {})["enforcementAction"] = "dryrun"
        try:
            one = build_library([(template, name)], [(constraint, name)])
            engine = build_engine(one)
            for request in probes:
                violations(engine, one.constraints[0], review_json(admission_review(request)))
        except PolicyError as e:
            skipped.append(f"{name}: {e}")
            continue
        slug = name.replace("/", "-")
        (target / f"{slug}-template.yaml").write_text(yaml.safe_dump(template))
        (target / f"{slug}-constraint.yaml").write_text(yaml.safe_dump(constraint))
        loaded += 1
    return loaded, skipped
