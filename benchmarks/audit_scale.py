"""How far does one auditor go? N TruthChecks x M objects against the Kubernetes API mock server.

Seeds the mock API server (kmock, in its own process, seeded in bulk inside that process) with
``--namespaces`` namespaces of ``--apps`` applications each — an Application, a TruthCheck and
``--objects`` live objects per app (a Deployment, its ReplicaSet, pods, a Service, ConfigMaps)
— then runs one full audit pass with the real kubernetes client three ways, each in a fresh
client process against a freshly seeded server, in the same run:

* naive    — every verification lists what it needs itself (what the PostSync hook does);
* per pass — the pass cache: one listing per (type, namespace) per pass;
* informers — one list+watch per (type, namespace), started and synced before the pass (the
  steady state of a running auditor); verifications read lists from memory.

Prints, for each: wall time of the pass, audits per minute, API requests per audit during the
pass (gets, lists, status patches), the requests the informers made once to start (lists and
watches), and the client process's resident memory before, after the informers synced, and
at its peak. Run:
``.venv/bin/python -m benchmarks.audit_scale --namespaces 50 --apps 10 --objects 40``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from tests.cluster.fakeapi import ApiServer, serve_api
from webhooks.audit.auditor import Auditor
from webhooks.cluster.informer import Informers
from webhooks.cluster.reader import KubeClient, connect
from webhooks.cluster.resources import (
    APP_OBJECT_TYPES,
    APPLICATION,
    CONFIGMAP,
    DEPLOYMENT,
    POD,
    REPLICASET,
    SERVICE,
    TRUTHCHECK,
    ResourceType,
    ServedType,
)
from webhooks.evidence.model import KubeObject
from webhooks.postsync.collect import SystemClock
from webhooks.verdict.judge import judge

MODES = {
    "naive": "naive (lists per verification)",
    "pass": "per-pass cache",
    "informers": "informers (list+watch, shared)",
}


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

    def served_types(self, group: str, version: str) -> list[ServedType]:
        self.calls["get"] += 1
        return self.inner.served_types(group, version)

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        self.calls["get"] += 1
        return self.inner.secret_value(namespace, name, key)

    def patch_status(self, *args: Any, **kw: Any) -> KubeObject:
        self.calls["patch"] += 1
        return self.inner.patch_status(*args, **kw)


def _tracking(app: str, group: str, kind: str, ns: str, name: str) -> dict[str, str]:
    return {"argocd.argoproj.io/tracking-id": f"{app}:{group}/{kind}:{ns}/{name}"}


def _owner(kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    return [{"kind": kind, "name": name, "uid": uid, "controller": True}]


def seed(api: ApiServer, namespaces: int, apps: int, objects: int) -> int:
    """Bulk-insert the world in the server's own process: one step per resource type."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pods = objects - 5
    batch: dict[ResourceType, list[dict[str, Any]]] = {
        t: [] for t in (APPLICATION, TRUTHCHECK, DEPLOYMENT, REPLICASET, POD, SERVICE, CONFIGMAP)
    }
    for n in range(namespaces):
        ns = f"team-{n}"
        for a in range(apps):
            app = f"app-{n}-{a}"
            labels = {"app": app}
            dep_uid, rs_uid = str(uuid.uuid4()), str(uuid.uuid4())
            batch[APPLICATION].append(
                {
                    "metadata": {"name": app, "namespace": "argocd"},
                    "spec": {"destination": {"namespace": ns}},
                    "status": {
                        "sync": {"status": "Synced", "revision": "abc"},
                        "health": {"status": "Healthy"},
                        "reconciledAt": now,
                        "operationState": {"phase": "Succeeded", "startedAt": now},
                    },
                }
            )
            batch[TRUTHCHECK].append(
                {"metadata": {"name": app, "namespace": ns}, "spec": {"application": app}}
            )
            batch[DEPLOYMENT].append(
                {
                    "metadata": {
                        "name": app,
                        "namespace": ns,
                        "uid": dep_uid,
                        "annotations": _tracking(app, "apps", "Deployment", ns, app),
                    },
                    "spec": {"replicas": pods, "selector": {"matchLabels": labels}},
                    "status": {
                        "observedGeneration": 1,
                        "replicas": pods,
                        "updatedReplicas": pods,
                        "readyReplicas": pods,
                        "availableReplicas": pods,
                    },
                }
            )
            batch[REPLICASET].append(
                {
                    "metadata": {
                        "name": f"{app}-1",
                        "namespace": ns,
                        "uid": rs_uid,
                        "labels": labels,
                        "ownerReferences": _owner("Deployment", app, dep_uid),
                    },
                    "status": {"replicas": pods, "readyReplicas": pods},
                }
            )
            batch[POD] += [
                {
                    "metadata": {
                        "name": f"{app}-1-{p}",
                        "namespace": ns,
                        "labels": labels,
                        "ownerReferences": _owner("ReplicaSet", f"{app}-1", rs_uid),
                    },
                    "status": {"phase": "Running"},
                }
                for p in range(pods)
            ]
            batch[SERVICE].append(
                {
                    "metadata": {
                        "name": app,
                        "namespace": ns,
                        "annotations": _tracking(app, "", "Service", ns, app),
                    },
                    "spec": {"selector": labels},
                }
            )
            batch[CONFIGMAP] += [
                {
                    "metadata": {
                        "name": f"{app}-{c}",
                        "namespace": ns,
                        "annotations": _tracking(app, "", "ConfigMap", ns, f"{app}-{c}"),
                    },
                    "data": {"k": "v"},
                }
                for c in range(2)
            ]
    for rtype, objs in batch.items():
        api.bulk_put(rtype, objs)
    return namespaces * apps


def _memory() -> dict[str, float]:
    """Resident memory of this process now and at its peak, MiB (Linux /proc)."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def run_pass(url: str, namespaces: int, mode: str) -> dict[str, float]:
    """One audit pass in this process (a fresh one per mode, so memory is its own)."""
    names = tuple(f"team-{n}" for n in range(namespaces))
    client = connect(server=url, timeout=60)
    counting = Counting(client)
    rss_before = _memory()["VmRSS"]
    informers = None
    setup: dict[str, float] = {}
    if mode == "informers":
        watcher = connect(server=url, timeout=60, pool_size=len(APP_OBJECT_TYPES) * namespaces + 4)
        informers = Informers(watcher, frozenset(APP_OBJECT_TYPES))
        started = time.perf_counter()
        informers.prime(APP_OBJECT_TYPES, names)
        if not informers.wait_synced(600):
            raise SystemExit("informers did not sync within 600 s")
        setup = {
            "sync_s": time.perf_counter() - started,
            "informers": len(informers.all()),
            "setup_requests": sum(i.stats.lists + i.stats.watches for i in informers.all()),
        }
    rss_synced = _memory()["VmRSS"]
    auditor = Auditor(
        counting,
        counting,
        judge,
        SystemClock(),
        names,
        concurrency=4,
        share_lists=mode != "naive",
        informers=informers,
    )
    started = time.perf_counter()
    results = auditor.tick()
    seconds = time.perf_counter() - started
    memory = _memory()
    if informers is not None:
        informers.stop()
    client.close()
    audited = sum(r.outcome in ("published", "unchanged", "heartbeat") for r in results)
    return {
        "audited": audited,
        "failed": sum(r.outcome == "failed" for r in results),
        "seconds": seconds,
        "per_minute": audited / seconds * 60 if seconds else 0.0,
        "requests_per_audit": sum(counting.calls.values()) / max(1, audited),
        "lists_per_audit": counting.calls["list"] / max(1, audited),
        "rss_before": rss_before,
        "rss_synced": rss_synced,
        "rss_peak": memory["VmHWM"],
        **setup,
    }


def _serve(namespaces: int, apps: int, objects: int) -> None:
    """Child process: serve a seeded mock API until stdin closes (its own GIL and core)."""
    with serve_api(forget_requests=True) as api:
        started = time.perf_counter()
        seed(api, namespaces, apps, objects)
        print(api.url, f"{time.perf_counter() - started:.1f}", flush=True)
        sys.stdin.read()


def _child(args: argparse.Namespace, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.audit_scale",
            *extra,
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
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated: " + ", ".join(MODES)
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="MODE", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.namespaces, args.apps, args.objects)
        return
    if args.client:
        print(json.dumps(run_pass(args.url, args.namespaces, args.client)), flush=True)
        return
    n = args.namespaces * args.apps
    print(
        f"{n} TruthChecks x {args.objects} objects in {args.namespaces} namespaces; "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )
    rows = []
    for mode in args.modes.split(","):
        server = _child(args, "--serve")  # a fresh world for each: every TruthCheck publishes
        try:
            assert server.stdout is not None
            url, seeded = server.stdout.readline().split()
            print(f"{MODES[mode]}: seeded {n * (args.objects + 2)} objects in {seeded} s")
            client = _child(args, f"--client={mode}", f"--url={url}")
            out, _ = client.communicate()
            rows.append((mode, json.loads(out.strip().splitlines()[-1])))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(60)
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print(
        "| one audit pass | audits | s | audits/min | API requests/audit | lists/audit "
        "| requests to start (once) | RSS MiB: start, synced, peak |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for mode, r in rows:
        start = (
            f"{r['setup_requests']:.0f} ({r['informers']:.0f} informers, synced in "
            f"{r['sync_s']:.0f} s)"
            if "setup_requests" in r
            else "—"
        )
        print(
            f"| {MODES[mode]} | {r['audited']:.0f} (failed {r['failed']:.0f}) "
            f"| {r['seconds']:.1f} | {r['per_minute']:.0f} | {r['requests_per_audit']:.1f} "
            f"| {r['lists_per_audit']:.2f} | {start} "
            f"| {r['rss_before']:.0f}, {r['rss_synced']:.0f}, {r['rss_peak']:.0f} |"
        )
    base = dict(rows).get("naive")
    for mode, r in rows:
        if base and mode != "naive" and r["seconds"] and base["requests_per_audit"]:
            print(
                f"{MODES[mode]} / naive: "
                f"{r['requests_per_audit'] / base['requests_per_audit']:.2f}x requests per audit, "
                f"{base['seconds'] / r['seconds']:.1f}x faster pass"
            )


if __name__ == "__main__":
    main()
