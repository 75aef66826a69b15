"""Per-review policy evaluation time with the embedded regorus engine.

Rows, all measured in this run on the same ~3 KB Deployment review (CREATE by Argo CD):

- shipped: the policies in policies/admission (baseline)
- shipped + 30: the same plus 30 extra simple Deployment policies
- decide(): the whole admission decision (context, JSON Patch, evaluation, intent) for each
- decide() of an UPDATE, and its JSON Patch against jsonpatch over the whole objects
- thread engine build: what the first request of a new gunicorn thread pays once
- with ``--gatekeeper-library PATH`` (a checkout of the Gatekeeper policy library): shipped
  against shipped + every library template with one constraint, on the Deployment and on its
  Pod (benchmarks/gatekeeper_library.py)

Run: .venv/bin/python -m benchmarks.policy_eval_bench [--runs N] [--gatekeeper-library PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import jsonpatch

from benchmarks.gatekeeper_library import write_library
from tests.admission.reviews import deployment, review
from webhooks.admission.config import load_config
from webhooks.admission.context import build_input, change_patch
from webhooks.admission.decide import decide
from webhooks.admission.review import parse_review
from webhooks.policy.combined import CombinedEngine
from webhooks.policy.gatekeeper.engine import GatekeeperEngine
from webhooks.policy.regorus_engine import RegorusEngine, new_engine

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "policies" / "admission"

EXTRA = """# METADATA
# title: Extra policy {n}
# description: Requires label team-{n} unless the object opts out (benchmark filler).
# custom:
#   kinds: [Deployment]
package bench.extra_{n}

import rego.v1

deny contains msg if {{
	labels := object.get(input.request.object.metadata, "labels", {{}})
	not labels["team-{n}"]
	not labels["skip-{n}"] == "true"
	some c in input.request.object.spec.template.spec.containers
	startswith(c.image, "forbidden-{n}/")
	msg := sprintf("%s needs label team-{n}", [input.request.name])
}}
"""


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and p95 in microseconds after a short warm-up."""
    for _ in range(min(50, runs)):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--gatekeeper-library", type=Path, help="adds the library rows")
    args = parser.parse_args()

    doc = review("CREATE", deployment())
    size = len(json.dumps(doc))
    request = parse_review(doc)
    config = load_config(SHIPPED / "enforcement.yaml")
    policy_input = dict(build_input(request, config))
    now = datetime.now(UTC)

    with tempfile.TemporaryDirectory() as tmp:
        extended = Path(tmp) / "admission"
        shutil.copytree(SHIPPED, extended)
        for n in range(30):
            (extended / f"extra_{n}.rego").write_text(EXTRA.format(n=n))
        shipped, more = RegorusEngine(SHIPPED), RegorusEngine(extended)
        rows = []
        for label, engine in (("shipped", shipped), ("shipped + 30 extra", more)):
            n_policies = sum(1 for m in engine.policies() if not m.kinds or "Deployment" in m.kinds)
            med, p95 = timed(partial(engine.evaluate, "Deployment", policy_input), args.runs)
            rows.append((f"evaluate(), {label}", n_policies, med, p95))
        for label, engine in (("shipped", shipped), ("shipped + 30 extra", more)):
            n_policies = sum(1 for m in engine.policies() if not m.kinds or "Deployment" in m.kinds)
            med, p95 = timed(partial(decide, request, engine, config, now), args.runs)
            rows.append((f"decide(), {label}", n_policies, med, p95))
        update = parse_review(
            review("UPDATE", deployment("registry.example.com/shop/web:1.5.0"), deployment())
        )
        med, p95 = timed(partial(decide, update, shipped, config, now), args.runs)
        rows.append(("decide(), UPDATE image bump, shipped", len(shipped.policies()), med, p95))
        med, p95 = timed(partial(change_patch, update), args.runs)
        rows.append(("  its patch: subtree diff", 0, med, p95))
        old, new = update.get("oldObject"), update.get("object")
        med, p95 = timed(partial(jsonpatch.make_patch, old, new), args.runs // 4)
        rows.append(("  its patch: jsonpatch on whole objects", 0, med, p95))
        for label, directory in (("shipped", SHIPPED), ("shipped + 30 extra", extended)):
            sources = RegorusEngine(directory)._set.sources
            med, p95 = timed(partial(new_engine, sources), max(50, args.runs // 20))
            rows.append((f"thread engine build, {label}", len(sources), med, p95))

        if args.gatekeeper_library:
            rows.extend(_library_rows(args.gatekeeper_library, Path(tmp), policy_input, args.runs))

        # Two threads at once: does regorus release the GIL while evaluating?
        def burst(count: int) -> None:
            for _ in range(count):
                more.evaluate("Deployment", policy_input)

        burst(10)
        start = time.perf_counter()
        burst(400)
        one = time.perf_counter() - start
        threads = [threading.Thread(target=burst, args=(200,)) for _ in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two = time.perf_counter() - start

    print(f"review: CREATE Deployment, {size} bytes of JSON; {args.runs} runs per row")
    print(f"{'what':<40} {'policies':>8} {'median µs':>10} {'p95 µs':>9} {'vs baseline':>11}")
    base = rows[0][2]
    for what, n, med, p95 in rows:
        print(f"{what:<40} {n:>8} {med:>10.1f} {p95:>9.1f} {med / base:>10.2f}x")
    print(
        f"400 evaluations (shipped + 30): 1 thread {one * 1000:.0f} ms, "
        f"2 threads x 200 {two * 1000:.0f} ms (ratio {two / one:.2f})"
    )


def _library_rows(
    library: Path, tmp: Path, deployment_input: dict[str, Any], runs: int
) -> list[tuple[str, int, float, float]]:
    request = deployment_input["request"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**request["object"]["spec"]["template"]["metadata"], "name": "web-x2x9k"},
        "spec": request["object"]["spec"]["template"]["spec"],
    }
    pod_request = {
        **request,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "name": "web-x2x9k",
        "operation": "CREATE",
        "object": pod,
        "oldObject": None,
    }
    inputs = {"Deployment": deployment_input, "Pod": {**deployment_input, "request": pod_request}}
    loaded, skipped = write_library(library, tmp / "gk", [request, pod_request])
    for reason in skipped:
        print(f"library template skipped: {reason}")
    shipped = RegorusEngine(SHIPPED)
    both = CombinedEngine(shipped, GatekeeperEngine(tmp / "gk"))
    rows = []
    for kind, doc in inputs.items():
        for label, engine in (("shipped", shipped), (f"shipped + library ({loaded})", both)):
            n = sum(1 for m in engine.policies() if not m.kinds or kind in m.kinds)
            med, p95 = timed(partial(engine.evaluate, kind, doc), runs // 4)
            rows.append((f"evaluate() {kind}, {label}", n, med, p95))
    return rows


if __name__ == "__main__":
    main()
