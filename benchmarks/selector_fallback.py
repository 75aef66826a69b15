"""Judging Evidence whose Pods carry no ownerReferences (a trimmed collector, a hand-made or
hostile document): every workload then finds its Pods by label selector.

Side by side in one run, same documents: ``scan`` — the selector tested against every Pod of
the namespace for every workload (what ``ObjectIndex.pods_of`` did), patched in for the
measurement; ``indexed`` — the shipped ``pods_of``, which narrows candidates by matchLabels
through the label index first. Both must find the same verdict. Prints medians of
``judge(evidence)`` and the ratio. Run: ``.venv/bin/python -m benchmarks.selector_fallback``
"""

from __future__ import annotations

import functools
from typing import Any
from unittest import mock

from benchmarks.verdict_judge import evidence_with, median_seconds
from webhooks.checks import kube
from webhooks.checks.index import ObjectIndex, _owner_refs
from webhooks.verdict.judge import judge
from webhooks.verdict.load import load_evidence
from webhooks.verdict.policy import default_policy


def _scan_pods_of(self: ObjectIndex, workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The previous selector fallback: every Pod of the namespace, for every workload."""
    wkind = kube.kind(workload)
    if wkind == "Pod":
        return [workload]
    owners = self.children(workload, "ReplicaSet") if wkind == "Deployment" else [workload]
    pods = [p for o in owners for p in self.children(o, "Pod")]
    if pods:
        return pods
    selector = kube.get_dict(workload, "spec", "selector")
    if not selector:
        return []
    return [
        p
        for p in self.pods_in(kube.namespace(workload))
        if not _owner_refs(p)
        and kube.selector_matches(selector, kube.str_map(p, "metadata", "labels"))
    ]


def trimmed(apps: int) -> dict[str, Any]:
    doc = evidence_with(apps)
    for obj in doc["objects"]:
        if obj["kind"] == "Pod":
            obj["metadata"].pop("ownerReferences", None)
    return doc


def main() -> None:
    default_policy()
    print(
        f"{'deployments':>11} {'pods':>6} {'objects':>8} {'scan ms':>10} {'indexed ms':>11} "
        f"{'scan/indexed':>13}"
    )
    for apps in (50, 100, 200):
        ev = load_evidence(trimmed(apps))
        pods = sum(o["kind"] == "Pod" for o in ev["objects"])
        runs = 3
        indexed_verdict = judge(ev)
        indexed = median_seconds(functools.partial(judge, ev), runs)
        with mock.patch.object(ObjectIndex, "pods_of", _scan_pods_of):
            scan_verdict = judge(ev)
            scan = median_seconds(functools.partial(judge, ev), runs)
        assert scan_verdict == indexed_verdict, "the index must not change the verdict"
        print(
            f"{apps:>11} {pods:>6} {len(ev['objects']):>8} {scan * 1000:>10.0f} "
            f"{indexed * 1000:>11.0f} {scan / indexed:>13.1f}"
        )


if __name__ == "__main__":
    main()
