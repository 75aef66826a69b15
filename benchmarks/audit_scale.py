"""How far does one auditor go? N TruthChecks x M objects against the Kubernetes API mock server.

Seeds the mock API server (kmock, over HTTP on 127.0.0.1) with ``--namespaces`` namespaces of
``--apps`` applications each — an Application, a TruthCheck and ``--objects`` live objects per
app (a Deployment, its ReplicaSet, pods, a Service, ConfigMaps) — then runs one full audit
pass with the real kubernetes client two ways, in the same run:

* naive  — every verification lists what it needs itself (what the PostSync hook does);
* shared — the auditor's pass cache: one listing per (type, namespace) per pass.

Prints, for each: wall time of the pass, audits per minute, API requests per audit, and the
peak of Python memory allocated during the pass (tracemalloc). Run:
``.venv/bin/python -m benchmarks.audit_scale --namespaces 50 --apps 10 --objects 40``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.cluster.fakeapi import ApiServer, serve_api
from webhooks.audit.auditor import Auditor
from webhooks.cluster.reader import KubeClient, connect
from webhooks.cluster.resources import (
    APPLICATION,
    CONFIGMAP,
    DEPLOYMENT,
    POD,
    REPLICASET,
    SERVICE,
    TRUTHCHECK,
    ResourceType,
)
from webhooks.evidence.model import Evidence, KubeObject, Verdict
from webhooks.postsync.collect import SystemClock
from webhooks.verdict.judge import judge


class Counting:
    """A ClusterReader/StatusWriter that counts the requests it passes on."""

    def __init__(self, inner: KubeClient) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def get_object(self, rtype: ResourceType, namespace: str | None, name: str) -> Any:
        self.calls["get"] += 1
        return self.inner.get_object(rtype, namespace, name)

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[KubeObject]:
        self.calls["list"] += 1
        return self.inner.list_objects(rtype, namespace)

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        self.calls["get"] += 1
        return self.inner.secret_value(namespace, name, key)

    def patch_status(self, *args: Any, **kw: Any) -> KubeObject:
        self.calls["patch"] += 1
        return self.inner.patch_status(*args, **kw)


def _tracking(app: str, group: str, kind: str, ns: str, name: str) -> dict[str, str]:
    return {"argocd.argoproj.io/tracking-id": f"{app}:{group}/{kind}:{ns}/{name}"}


def seed(api: ApiServer, namespaces: int, apps: int, objects: int) -> int:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    count = 0
    for n in range(namespaces):
        ns = f"team-{n}"
        for a in range(apps):
            app = f"app-{n}-{a}"
            api.put(
                APPLICATION,
                {
                    "metadata": {"name": app, "namespace": "argocd"},
                    "spec": {"destination": {"namespace": ns}},
                    "status": {
                        "sync": {"status": "Synced", "revision": "abc"},
                        "health": {"status": "Healthy"},
                        "reconciledAt": now,
                        "operationState": {"phase": "Succeeded", "startedAt": now},
                    },
                },
            )
            api.put(
                TRUTHCHECK,
                {"metadata": {"name": app, "namespace": ns}, "spec": {"application": app}},
            )
            labels = {"app": app}
            dep = api.put(
                DEPLOYMENT,
                {
                    "metadata": {
                        "name": app,
                        "namespace": ns,
                        "annotations": _tracking(app, "apps", "Deployment", ns, app),
                    },
                    "spec": {"replicas": objects - 5, "selector": {"matchLabels": labels}},
                    "status": {
                        "observedGeneration": 1,
                        "replicas": objects - 5,
                        "updatedReplicas": objects - 5,
                        "readyReplicas": objects - 5,
                        "availableReplicas": objects - 5,
                    },
                },
            )
            rs = api.put(
                REPLICASET,
                {
                    "metadata": {
                        "name": f"{app}-1",
                        "namespace": ns,
                        "labels": labels,
                        "ownerReferences": [
                            {
                                "kind": "Deployment",
                                "name": app,
                                "uid": dep["metadata"]["uid"],
                                "controller": True,
                            }
                        ],
                    },
                    "status": {"replicas": objects - 5, "readyReplicas": objects - 5},
                },
            )
            for p in range(objects - 5):
                api.put(
                    POD,
                    {
                        "metadata": {
                            "name": f"{app}-1-{p}",
                            "namespace": ns,
                            "labels": labels,
                            "ownerReferences": [
                                {
                                    "kind": "ReplicaSet",
                                    "name": f"{app}-1",
                                    "uid": rs["metadata"]["uid"],
                                    "controller": True,
                                }
                            ],
                        },
                        "status": {"phase": "Running"},
                    },
                )
            api.put(
                SERVICE,
                {
                    "metadata": {
                        "name": app,
                        "namespace": ns,
                        "annotations": _tracking(app, "", "Service", ns, app),
                    },
                    "spec": {"selector": labels},
                },
            )
            for c in range(2):
                api.put(
                    CONFIGMAP,
                    {
                        "metadata": {
                            "name": f"{app}-{c}",
                            "namespace": ns,
                            "annotations": _tracking(app, "", "ConfigMap", ns, f"{app}-{c}"),
                        },
                        "data": {"k": "v"},
                    },
                )
            count += 1
    return count


def run_pass(url: str, namespaces: int, *, shared: bool) -> dict[str, float]:
    client = connect(server=url, timeout=30)
    counting = Counting(client)
    policy_judge: Callable[[Evidence], Verdict] = judge
    auditor = Auditor(
        counting,
        counting,
        policy_judge,
        SystemClock(),
        tuple(f"team-{n}" for n in range(namespaces)),
        concurrency=4,
        share_lists=shared,
    )
    tracemalloc.start()
    started = time.perf_counter()
    results = auditor.tick()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    client.close()
    audited = sum(r.outcome in ("published", "unchanged", "heartbeat") for r in results)
    failed = sum(r.outcome == "failed" for r in results)
    return {
        "audited": audited,
        "failed": failed,
        "seconds": seconds,
        "per_minute": audited / seconds * 60 if seconds else 0.0,
        "requests_per_audit": sum(counting.calls.values()) / max(1, audited),
        "lists_per_audit": counting.calls["list"] / max(1, audited),
        "peak_mib": peak / 2**20,
    }


def _serve(namespaces: int, apps: int, objects: int) -> None:
    """Child process: serve a seeded mock API until stdin closes (its own GIL and core)."""
    with serve_api() as api:
        seed(api, namespaces, apps, objects)
        print(api.url, flush=True)
        sys.stdin.read()


def _server(args: argparse.Namespace) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.audit_scale",
            "--serve",
            f"--namespaces={args.namespaces}",
            f"--apps={args.apps}",
            f"--objects={args.objects}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--apps", type=int, default=10, help="applications per namespace")
    parser.add_argument("--objects", type=int, default=40, help="live objects per application")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.namespaces, args.apps, args.objects)
        return
    n = args.namespaces * args.apps
    print(f"{n} TruthChecks x {args.objects} objects in {args.namespaces} namespaces")
    rows = []
    for label, shared in (("naive (lists per verification)", False), ("shared pass cache", True)):
        server = _server(args)  # a fresh world for each, so both publish every TruthCheck
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            rows.append((label, run_pass(url, args.namespaces, shared=shared)))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(60)
    print()
    print(
        "| one audit pass | audits | s | audits/min | API requests/audit | lists/audit | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, r in rows:
        print(
            f"| {label} | {r['audited']:.0f} (failed {r['failed']:.0f}) | {r['seconds']:.1f} "
            f"| {r['per_minute']:.0f} | {r['requests_per_audit']:.1f} "
            f"| {r['lists_per_audit']:.2f} | {r['peak_mib']:.0f} |"
        )
    naive, cached = rows[0][1], rows[1][1]
    if cached["seconds"] and naive["requests_per_audit"]:
        print(
            f"\nshared / naive: {cached['requests_per_audit'] / naive['requests_per_audit']:.2f}x "
            f"requests per audit, {naive['seconds'] / cached['seconds']:.1f}x faster pass"
        )


if __name__ == "__main__":
    main()
