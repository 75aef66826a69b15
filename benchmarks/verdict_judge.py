"""How long does judging one Evidence document take as an app grows?

Builds Evidence for a namespace of N Deployments (each with a current and an old ReplicaSet,
pods, a Service, an EndpointSlice and events), from the shop-web fixture's shapes, and times:

* baseline — ``json.loads`` + ``load_evidence`` of the same document (the floor any judge pays);
* judge    — ``judge(evidence)``: every check plus the shipped Rego verdict policy.

Prints medians over several runs and the ratio judge/baseline. Run:
``.venv/bin/python -m benchmarks.verdict_judge``
"""

from __future__ import annotations

import copy
import functools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from tests.fixtures.evidence import build
from webhooks.verdict.judge import judge
from webhooks.verdict.load import load_evidence
from webhooks.verdict.policy import default_policy


def _renamed(obj: dict[str, Any], i: int) -> dict[str, Any]:
    text = json.dumps(obj)
    for token in ("web-7c9f8d6b5", "web-5d8c7b9f4", "web-x7k2p"):
        text = text.replace(token, token.replace("web", f"web{i}"))
    text = text.replace('"web"', f'"web{i}"').replace("/web", f"/web{i}")
    text = text.replace('"web-config"', f'"web{i}-config"').replace('"web-db"', f'"web{i}-db"')
    out: dict[str, Any] = json.loads(text)
    out["metadata"]["uid"] = build.uid(f"{i}/{out['kind']}/{out['metadata']['name']}")
    for ref in out["metadata"].get("ownerReferences", []):
        ref["uid"] = build.uid(f"{i}/{ref['kind']}/{ref['name']}")
    for key in ("involvedObject", "regarding"):
        if key in out:
            out[key]["uid"] = build.uid(f"{i}/{out[key]['kind']}/{out[key]['name']}")
    return out


def evidence_with(apps: int) -> dict[str, Any]:
    base = build.capacity_degraded()
    web = [
        o
        for o in base["objects"]
        if o["kind"] not in ("StatefulSet", "ResourceQuota")
        and "cache" not in o["metadata"]["name"]
    ]
    doc = copy.deepcopy(base)
    doc["objects"] = [o for o in base["objects"] if o not in web]
    for i in range(apps):
        doc["objects"] += [_renamed(o, i) for o in web]
    return doc


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _parse(raw: str) -> object:
    return load_evidence(json.loads(raw))


def main() -> None:
    default_policy()  # load once, as a long-running verifier does
    print(
        f"{'deployments':>11} {'objects':>8} {'baseline ms':>12} {'judge ms':>10} "
        f"{'ratio':>7} {'findings':>9}"
    )
    for apps in (1, 10, 50, 200):
        doc = evidence_with(apps)
        raw = json.dumps(doc)
        ev = load_evidence(raw)
        runs = 7 if apps <= 50 else 3
        base = median_seconds(functools.partial(_parse, raw), runs)
        judged = median_seconds(functools.partial(judge, ev), runs)
        findings = len(judge(ev)["findings"])
        print(
            f"{apps:>11} {len(doc['objects']):>8} {base * 1000:>12.1f} {judged * 1000:>10.1f} "
            f"{judged / base:>7.1f} {findings:>9}"
        )


if __name__ == "__main__":
    main()
