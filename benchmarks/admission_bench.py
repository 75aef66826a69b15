"""Admission throughput and latency: ``truthgate serve`` against its own stack's floor.

Side by side in one run, same client, same concurrency, same gunicorn settings:

- ``floor``: gunicorn + Flask over TLS answering ``allowed: true`` (benchmarks/admission_floor.py)
- ``truthgate``: the real ``truthgate serve``: the shipped policies plus 30 generated ones,
  each review evaluated, its intent appended to a SQLite ledger (WAL, synchronous=FULL: durable
  before the answer; concurrent appends of a worker share one commit and fsync), one log line
  per review, metrics.
- ``+library`` (with ``--gatekeeper-library PATH``, a checkout of the Gatekeeper policy
  library): the same server and policies plus every library template with one of its sample
  constraints (dryrun, so every review is evaluated in full and admitted;
  benchmarks/gatekeeper_library.py). A Pod review (CREATE by the ReplicaSet controller) is
  added to the kinds: most library templates target Pods.

Reviews: a ~3 KB Argo CD-managed Deployment update, a ConfigMap update and a Secret update, each
with a fresh uid. The client is ``--clients`` processes on loopback, each with one persistent
``http.client.HTTPSConnection`` sending its share of ``--requests`` back to back (bounded by
``--time-cap`` seconds). Each configuration runs ``--runs`` times; the table shows medians.
Each measurement also reads the CPU time of the server (master and workers, from /proc), of the
client processes, and of the whole machine: the client shares the cores with the server, and
so does whatever else runs on the machine; the table shows all three shares.
A second table shows what the ledger append costs in process: fsync per commit (FULL, what
truthgate uses) against NORMAL (no fsync per commit; not durable on power loss).

    .venv/bin/python -m benchmarks.admission_bench [--runs 3] [--requests 1500] [--clients 4]
        [--gatekeeper-library PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any

import trustme

from benchmarks.admission_policies import write_policy_dir
from benchmarks.gatekeeper_library import write_library
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "admission-review-deployment-update.json"
UID = "00000000-0000-0000-0000-00000000uid0"
TRUTHGATE = str(Path(sys.executable).with_name("truthgate"))


# --- reviews --------------------------------------------------------------------------------


def _deployment() -> dict[str, Any]:
    review: dict[str, Any] = json.loads(EXAMPLE.read_text())
    review["request"]["uid"] = UID
    return review


def _core_kind(kind: str, resource: str, new: dict[str, Any], old: dict[str, Any]) -> Any:
    review = _deployment()
    gvk = {"group": "", "version": "v1", "kind": kind}
    gvr = {"group": "", "version": "v1", "resource": resource}
    review["request"].update(
        kind=gvk,
        resource=gvr,
        requestKind=gvk,
        requestResource=gvr,
        name=new["metadata"]["name"],
        object=new,
        oldObject=old,
    )
    return review


def _meta(name: str, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "shop",
        "uid": "4c1e7d52-8f47-4d36-a2c1-0d9f5b1e2a33",
        "resourceVersion": "52001",
        "creationTimestamp": "2026-11-20T09:00:00Z",
        "labels": {"app.kubernetes.io/name": "web"},
        "annotations": {"argocd.argoproj.io/tracking-id": f"shop-web:/{kind}:shop/{name}"},
    }


def _configmap() -> Any:
    def cm(level: str) -> dict[str, Any]:
        data = {f"feature.{i}": f"enabled-{i}" for i in range(10)}
        data["log.level"] = level
        meta = _meta("web-config", "ConfigMap")
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}

    return _core_kind("ConfigMap", "configmaps", cm("debug"), cm("info"))


def _secret() -> Any:
    def secret(password: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": _meta("db", "Secret"),
            "data": {"username": "c2hvcA==", "password": password},
        }

    return _core_kind("Secret", "secrets", secret("bmV3LXBhc3N3b3Jk"), secret("b2xkLXBhc3N3b3Jk"))


def _pod() -> Any:
    """The Deployment's pod, created by the ReplicaSet controller (not managed by Argo CD)."""
    review = _deployment()
    template = review["request"]["object"]["spec"]["template"]
    meta = {**template["metadata"], "name": "web-7d9c6b5f4-x2x9k", "namespace": "shop"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    review["request"].update(
        kind=gvk,
        resource=gvr,
        requestKind=gvk,
        requestResource=gvr,
        name=meta["name"],
        operation="CREATE",
        object=pod,
        oldObject=None,
        userInfo={"username": "system:serviceaccount:kube-system:replicaset-controller"},
    )
    return review


REVIEWS = {"Deployment": _deployment, "ConfigMap": _configmap, "Secret": _secret, "Pod": _pod}


# --- servers --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes]


@contextmanager
def _server(
    name: str, cmd: list[str], port: int, ca: Path, cwd: Path, *, log_dir: Path
) -> Iterator[Target]:
    log = (log_dir / f"{name}.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=log, env=env, start_new_session=True)
    target = Target(name, port, proc)
    try:
        _await_ready(target, ca)
        yield target
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def _await_ready(target: Target, ca: Path, deadline: float = 30.0) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if target.proc.poll() is not None:
            raise SystemExit(f"{target.name} exited with {target.proc.returncode}")
        try:
            conn = HTTPSConnection("127.0.0.1", target.port, context=ctx, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{target.name} never became ready")


# --- client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    port: int
    ca: str
    template: bytes
    count: int
    time_cap: float
    start_at: float  # wall clock: every client starts together
    interval: float = 0.0  # seconds between this client's sends; 0 = back to back


def _client(job: Job) -> tuple[float, float, list[float], int]:
    """Send ``count`` reviews on one persistent connection; latencies in ms.

    Paced (``interval`` > 0), each latency runs from the send's *scheduled* time, so a server
    that falls behind is charged for the wait it causes (no coordinated omission).
    """
    ctx = ssl.create_default_context(cafile=job.ca)
    conn = HTTPSConnection("127.0.0.1", job.port, context=ctx, timeout=10)
    conn.connect()
    headers = {"Content-Type": "application/json"}
    bodies = [
        job.template.replace(UID.encode(), str(uuid.uuid4()).encode()) for _ in range(job.count)
    ]
    time.sleep(max(0.0, job.start_at - time.time()))
    latencies: list[float] = []
    failures = 0
    began = time.time()
    stop = began + job.time_cap
    first = time.perf_counter()
    for i, body in enumerate(bodies):
        t0 = time.perf_counter()
        if job.interval:
            scheduled = first + i * job.interval
            if scheduled > t0:
                time.sleep(scheduled - t0)
            t0 = scheduled
        conn.request("POST", "/validate?timeout=10s", body, headers)
        reply = conn.getresponse()
        data = reply.read()
        latencies.append((time.perf_counter() - t0) * 1000)
        if reply.status != 200 or b'"allowed":true' not in data:
            failures += 1
        if time.time() > stop:
            break
    ended = time.time()
    conn.close()
    return began, ended, latencies, failures


@dataclass(frozen=True)
class Result:
    rate: float
    p50: float
    p99: float
    failures: int
    server_ms: float = 0.0  # server CPU (master + workers) per review
    server_share: float = 0.0  # of the machine's CPU time (all cores) during the measurement
    client_share: float = 0.0  # the load generator's own processes
    other_share: float = 0.0  # everything else running on the machine meanwhile


_TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its children (the gunicorn master and its workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(stat.parent.name) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _machine_cpu() -> tuple[float, float]:
    """(all CPU seconds, busy CPU seconds) of the machine so far, every core summed."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    total = sum(values[:8]) / _TICK  # guest time is already inside user
    return total, total - (values[3] + values[4]) / _TICK


def _load(
    port: int,
    ca: Path,
    review: Any,
    requests: int,
    *,
    clients: int,
    cap: float,
    rate: float = 0.0,
    server_pid: int | None = None,
) -> Result:
    """``requests`` reviews from ``clients`` connections, back to back or at ``rate`` per s.

    With ``server_pid``, also what the server, the client and everything else spent in CPU.
    """
    template = json.dumps(review, separators=(",", ":")).encode()
    server0 = _tree_cpu(server_pid) if server_pid else 0.0
    client0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine0 = _machine_cpu()
    start_at = time.time() + 0.5
    interval = clients / rate if rate else 0.0
    jobs = [
        Job(
            port,
            str(ca),
            template,
            requests // clients,
            cap,
            start_at + k * interval / clients,
            interval,
        )  # staggered, evenly spaced
        for k in range(clients)
    ]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(_client, jobs)
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    failures = sum(r[3] for r in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    rate_done = len(latencies) / (ended - began)
    if not server_pid:
        return Result(rate_done, statistics.median(latencies), p99, failures)
    # Pool workers are reaped when the pool closes, so RUSAGE_CHILDREN now includes them
    # (their start-up and body preparation too: a slight overestimate of the client).
    server = _tree_cpu(server_pid) - server0
    client1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
    machine1 = _machine_cpu()
    total, busy = machine1[0] - machine0[0], machine1[1] - machine0[1]
    return Result(
        rate_done,
        statistics.median(latencies),
        p99,
        failures,
        server_ms=server * 1000 / len(latencies),
        server_share=server / total,
        client_share=client / total,
        other_share=max(0.0, busy - server - client) / total,
    )


# --- ledger cost ----------------------------------------------------------------------------


def _ledger_cost(tmp: Path, n: int = 300) -> dict[str, tuple[float, float]]:
    from webhooks.ledger.sqlite_store import SqliteStore

    review = _deployment()["request"]
    out: dict[str, tuple[float, float]] = {}
    for mode in ("FULL", "NORMAL"):
        store = SqliteStore(str(tmp / f"cost-{mode}.db"), synchronous=mode)
        times = []
        for _ in range(n):
            draft = {
                "uid": str(uuid.uuid4()),
                "time": "2026-11-27T10:00:00.000Z",
                "app": "shop-web",
                "kind": review["kind"],
                "namespace": "shop",
                "name": "web",
                "operation": "UPDATE",
                "actor": {"username": "argocd", "groups": [], "class": "argocd"},
                "patch": [
                    {
                        "op": "replace",
                        "path": "/spec/template/spec/containers/0/image",
                        "value": "registry.example.com/shop/web:1.5.0",
                    }
                ],
                "decision": {"allowed": True, "denials": [], "warnings": []},
                "dryRun": False,
            }
            t0 = time.perf_counter()
            store.append(draft)
            times.append((time.perf_counter() - t0) * 1000)
        store.close()
        times.sort()
        out[mode] = (statistics.median(times), times[int(len(times) * 0.99)])
    return out


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=300.0, help="paced load, reviews/s")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of paced load")
    parser.add_argument(
        "--requests", type=int, default=1500, help="reviews per saturation measurement"
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--time-cap", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--kinds", help="[default: Deployment,ConfigMap,Secret; and Pod with the library]"
    )
    parser.add_argument(
        "--gatekeeper-library",
        type=Path,
        help="a checkout of the Gatekeeper policy library: adds the +library server",
    )
    parser.add_argument(
        "--ledger-dir",
        type=Path,
        help="where the SQLite ledger lives [default: the temp dir, on disk]; "
        "/dev/shm (tmpfs: fsync is free) separates CPU cost from fsync cost",
    )
    args = parser.parse_args()
    library = args.gatekeeper_library
    default_kinds = "Deployment,ConfigMap,Secret" + (",Pod" if library else "")
    kinds = [k.strip() for k in (args.kinds or default_kinds).split(",") if k.strip()]
    paced = int(args.rate * args.duration)

    with tempfile.TemporaryDirectory(prefix="truthgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ca_file = tmp / "ca.pem"
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(ca_file))
        cert.cert_chain_pems[0].write_to_path(str(tmp / "tls.crt"))
        cert.private_key_pem.write_to_path(str(tmp / "tls.key"))
        write_policy_dir(tmp / "policies", ROOT / "policies" / "admission", extra=30)
        library_note = ""
        if library:
            shutil.copytree(tmp / "policies", tmp / "policies-library")
            probes = [REVIEWS[k]()["request"] for k in kinds]
            loaded, skipped = write_library(library, tmp / "policies-library" / "gk", probes)
            library_note = f"; +library: {loaded} Gatekeeper templates, one constraint each"
            for reason in skipped:
                print(f"  library template skipped: {reason}", file=sys.stderr)
        tls = ["--tls-cert", str(tmp / "tls.crt"), "--tls-key", str(tmp / "tls.key")]
        size = ["--workers", str(args.workers), "--threads", str(args.threads)]
        floor_port, tg_port, gk_port = free_port(), free_port(), free_port()
        floor_cmd = [
            sys.executable,
            "-m",
            "benchmarks.admission_floor",
            "--bind",
            f"127.0.0.1:{floor_port}",
            *tls,
            *size,
        ]
        ledger_dir = Path(tempfile.mkdtemp(dir=args.ledger_dir)) if args.ledger_dir else tmp
        tg_cmd = [
            TRUTHGATE,
            "serve",
            "--bind",
            f"127.0.0.1:{tg_port}",
            "--ledger",
            str(ledger_dir / "ledger.db"),
            "--policies",
            str(tmp / "policies"),
            *tls,
            *size,
        ]
        gk_cmd = list(tg_cmd)
        gk_cmd[gk_cmd.index(str(tmp / "policies"))] = str(tmp / "policies-library")
        gk_cmd[gk_cmd.index(f"127.0.0.1:{tg_port}")] = f"127.0.0.1:{gk_port}"
        gk_cmd[gk_cmd.index(str(ledger_dir / "ledger.db"))] = str(ledger_dir / "ledger-gk.db")
        results: dict[tuple[str, str, str], list[Result]] = {}
        with contextlib.ExitStack() as servers:
            targets = [
                servers.enter_context(
                    _server("floor", floor_cmd, floor_port, ca_file, ROOT, log_dir=tmp)
                ),
                servers.enter_context(
                    _server("truthgate", tg_cmd, tg_port, ca_file, tmp, log_dir=tmp)
                ),
            ]
            if library:
                targets.append(
                    servers.enter_context(
                        _server("+library", gk_cmd, gk_port, ca_file, tmp, log_dir=tmp)
                    )
                )
            for target in targets:  # warm-up: connections, caches
                _load(target.port, ca_file, _deployment(), 200, clients=args.clients, cap=10)
            for run in range(args.runs):
                for kind in kinds:
                    for mode in ("paced", "max"):
                        for target in targets:  # alternate: drift hits all alike
                            r = _load(
                                target.port,
                                ca_file,
                                REVIEWS[kind](),
                                paced if mode == "paced" else args.requests,
                                clients=args.clients,
                                cap=args.time_cap,
                                rate=args.rate if mode == "paced" else 0.0,
                                server_pid=target.proc.pid,
                            )
                            results.setdefault((mode, target.name, kind), []).append(r)
                            print(
                                f"  run {run + 1} {mode:5} {target.name:9} {kind:10} "
                                f"{r.rate:6.0f}/s p50 {r.p50:5.2f} ms p99 {r.p99:6.2f} ms "
                                f"server {r.server_ms:.2f} ms CPU/review; of the machine: "
                                f"server {r.server_share:.0%} client {r.client_share:.0%} "
                                f"other {r.other_share:.0%}"
                                + (f"  FAILURES {r.failures}" if r.failures else ""),
                                file=sys.stderr,
                                flush=True,
                            )
        ledger = _ledger_cost(ledger_dir)
        if ledger_dir != tmp:
            shutil.rmtree(ledger_dir, ignore_errors=True)

    print(
        f"\nAdmission over TLS on loopback: {args.clients} client connections, gunicorn "
        f"{args.workers} workers x {args.threads} threads, 33 policies{library_note}, "
        "SQLite ledger "
        f"(durable before each answer; fsyncs shared by group commit). Medians of "
        f"{args.runs} runs, {os.cpu_count()} CPUs; CPU shares are of all of them together "
        f"(client: the load generator; other: everything else on the machine)."
    )
    _table(
        f"Paced at {args.rate:.0f} reviews/s (latency from the scheduled send time)",
        "paced",
        results,
        kinds,
    )
    _table("Saturation (clients send back to back)", "max", results, kinds)
    failures = sum(r.failures for rs in results.values() for r in rs)
    if failures:
        print(f"\n{failures} reviews were not answered 200/allowed")
    print("\nLedger append in process (SQLite WAL, one append at a time):\n")
    print("| synchronous | p50 ms | p99 ms |")
    print("|-------------|--------|--------|")
    for name, (p50, p99) in ledger.items():
        note = " (truthgate: fsync per commit)" if name == "FULL" else " (not durable)"
        print(f"| {name:11} | {p50:6.2f} | {p99:6.2f} |{note}")


def _table(
    title: str, mode: str, results: dict[tuple[str, str, str], list[Result]], kinds: list[str]
) -> None:
    print(f"\n{title}:\n")
    print(
        f"| {'target':9} | {'review':10} | {'reviews/s':>9} | {'p50 ms':>6} | {'p99 ms':>6} "
        f"| {'p99 / floor':>11} | server CPU ms/review | CPU: server / client / other |"
    )
    print(
        f"|{'-' * 11}|{'-' * 12}|{'-' * 11}|{'-' * 8}|{'-' * 8}|{'-' * 13}|{'-' * 22}|{'-' * 31}|"
    )
    for kind in kinds:
        floor_p99 = statistics.median(r.p99 for r in results[(mode, "floor", kind)])
        for name in ("floor", "truthgate", "+library"):
            if (mode, name, kind) not in results:
                continue
            rs = results[(mode, name, kind)]
            p99 = statistics.median(r.p99 for r in rs)

            def med(field: str, rs: list[Result] = rs) -> float:
                return float(statistics.median(getattr(r, field) for r in rs))

            print(
                f"| {name:9} | {kind:10} | {med('rate'):9.0f} | {med('p50'):6.2f} | "
                f"{p99:6.2f} | {p99 / floor_p99:10.2f}x | {med('server_ms'):20.2f} | "
                f"{med('server_share'):8.0%} / {med('client_share'):4.0%} / "
                f"{med('other_share'):4.0%}      |"
            )


if __name__ == "__main__":
    main()
