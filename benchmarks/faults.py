"""The fault suite: what reviews see while truthgate's process, database or disk fails.

Each scenario starts a fresh ``truthgate serve`` (gunicorn over TLS on 127.0.0.1, 2 workers x 4
threads, fail-open, the shipped policies) with a fresh ledger, sends a steady load of Argo
CD-managed Deployment updates (each with a new uid: each must be recorded), injects one fault
for about 4 s, and afterwards reads the ledger back. For each scenario:

- **sent**: reviews sent by the load (poison and slow-client traffic not included);
- **in time**: answered with an AdmissionReview within 3 s (the API server's default timeout);
- **recorded**: their uids found in the ledger afterwards;
- **lost**: answered as recorded (allowed, no "intent not recorded" warning) but not in the
  ledger — the one number that must be 0;
- **not recorded**: answered in time under the failure mode ("intent not recorded");
- **recover s**: from the end of the fault to the first review answered in time and recorded.

Scenarios: kill -9 of a worker and of the master under load (the master is restarted at
once, as the kubelet would); PostgreSQL stopped (``pg_ctl stop -m immediate``, then started)
and hung (SIGSTOP of every server process, then SIGCONT); the disk full (SQLite on a small
tmpfs, filled by another file, which is then removed; needs root to mount); the SQLite file
deleted while serving (recovery needs a restore: by design it does not recover by itself);
slow clients (8 connections trickling a body one byte every 2 s and 16 idle TCP connections
without a TLS hello); poison input (4 requests/s with a lone surrogate or NaN).

Loopback only, bounded: ``--rate`` reviews/s (default 20, at most 64 in flight), the fault 4 s
after the load starts, the load for ``--after`` seconds (default 8) once the fault is lifted,
never more than 90 s per scenario. ``TG_FAULTS_KEEP=1`` keeps each scenario's directory (the
server's log; ``TG_FAULTS_LOG=INFO`` logs every review).

    .venv/bin/python -m benchmarks.faults [--only NAME ...] [--rate 20] [--after 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPSConnection
from pathlib import Path

from tests.server.served import TRUTHGATE, Served
from tests.support.net import free_port
from tests.support.postgres import PostgresServer, pg_ctl, start_postgres, stop_postgres
from webhooks.errors import TruthgateError
from webhooks.ledger import open_store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "admission-review-deployment-update.json"
IN_TIME_S = 3.0
FAULT_AT_S = 4.0  # after the load started
FAULT_FOR_S = 4.0
MAX_LOAD_S = 90.0  # the load never runs longer, whatever a fault does
CONCURRENCY = 64  # reviews in flight at most (the API server has no such limit; loopback)
NOT_RECORDED = b"intent not recorded"


# --- the load -----------------------------------------------------------------------------


@dataclass
class Sent:
    uid: str
    at: float  # time.monotonic() when scheduled
    answered_s: float | None = None  # None: no AdmissionReview came back
    recorded_claimed: bool = False  # allowed without "not recorded"
    not_recorded: bool = False


@dataclass
class Load:
    """Reviews sent at a fixed rate, each on its own thread as the API server would (it does
    not wait for one answer before sending the next); connections are kept per thread."""

    port: int
    ca: Path
    rate: float
    sent: list[Sent] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        template = json.loads(EXAMPLE.read_text())
        local = threading.local()
        ctx = ssl.create_default_context(cafile=str(self.ca))
        began = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for i in range(int(self.rate * MAX_LOAD_S)):
                if self.stop.is_set():
                    break
                scheduled = began + i / self.rate
                time.sleep(max(0.0, scheduled - time.monotonic()))
                uid = str(uuid.uuid4())
                template["request"]["uid"] = uid
                sent = Sent(uid, scheduled)
                self.sent.append(sent)
                pool.submit(self._send, local, ctx, json.dumps(template).encode(), sent)

    def _send(self, local: threading.local, ctx: ssl.SSLContext, body: bytes, sent: Sent) -> None:
        conn: HTTPSConnection | None = getattr(local, "conn", None)
        try:
            if conn is None:
                conn = HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=IN_TIME_S)
            conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
            reply = conn.getresponse()
            data = reply.read()
            local.conn = conn
            if reply.status == 200 and b'"AdmissionReview"' in data:
                sent.answered_s = time.monotonic() - sent.at
                sent.not_recorded = NOT_RECORDED in data
                sent.recorded_claimed = b'"allowed":true' in data and not sent.not_recorded
        except (OSError, ssl.SSLError, ValueError):
            if conn is not None:
                conn.close()
            local.conn = None  # reconnect: the worker died, or the answer was late


# --- one scenario ---------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    backend: str  # sqlite | postgresql
    fault: Callable[[Context], None]  # runs FAULT_AT_S after the load starts
    note: str = ""
    needs_root: bool = False


@dataclass
class Context:
    served: Served
    ledger: str
    work: Path
    pg: PostgresServer | None
    restart: Callable[..., None]
    fault_end: float = 0.0  # monotonic time the fault was lifted


@dataclass
class Row:
    name: str
    backend: str
    sent: int
    in_time: int
    recorded: int
    lost: int
    not_recorded: int
    recover_s: float | None
    note: str


def _serve(work: Path, port: int, ledger: str, ca: Path, wait: str = "/readyz") -> Served:
    """``truthgate serve`` on a fixed loopback port (a restart keeps the clients' address)."""
    out, err = work / f"serve-{time.monotonic_ns()}.out", work / f"serve-{time.monotonic_ns()}.err"
    env = {**os.environ, "TRUTHGATE_LOG_LEVEL": os.environ.get("TG_FAULTS_LOG", "WARNING")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    args = ["--bind", f"127.0.0.1:{port}", "--tls-dir", str(work / "tls"), "--ledger", ledger]
    args += ["--failure-mode", "fail-open", "--workers", "2", "--threads", "4"]
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [TRUTHGATE, "serve", *args],
            cwd=work,
            stdout=o,
            stderr=e,
            env=env,
            start_new_session=True,
        )
    served = Served(proc, port, work, None, out, err)
    _wait_file(ca)  # the first start writes the self-signed pair
    served.ca = ca
    served.wait_for(wait)
    return served


def _recorded(ledger: str) -> set[str]:
    try:
        store = open_store(ledger, create=False)
    except TruthgateError:
        return set()
    try:
        return {r["uid"] for r in store.intents()}
    finally:
        store.close()


def run_scenario(sc: Scenario, rate: float, after: float, pg: PostgresServer | None) -> Row:
    work = Path(tempfile.mkdtemp(prefix=f"tg-fault-{sc.name}-"))
    ca = work / "tls" / "tls.crt"
    try:
        if sc.backend == "postgresql":
            assert pg is not None
            ledger = pg.create_database(f"f_{uuid.uuid4().hex[:10]}")
        else:
            (work / "disk").mkdir()
            ledger = str(work / "disk" / "ledger.db")
        with _fault_env(sc, work) as ledger_path:
            ledger = ledger_path or ledger
            port = free_port()
            holder: list[Served] = [_serve(work, port, ledger, ca)]

            def restart(wait: str = "/readyz") -> None:
                holder[0].kill(signal.SIGKILL)
                holder[0] = _serve(work, port, ledger, ca, wait)

            ctx = Context(holder[0], ledger, work, pg, restart)
            load = Load(holder[0].port, ca, rate)
            loader = threading.Thread(target=load.run, daemon=True)
            loader.start()
            time.sleep(FAULT_AT_S)
            sc.fault(ctx)
            if ctx.fault_end == 0.0:
                ctx.fault_end = time.monotonic()
            time.sleep(after)
            load.stop.set()
            loader.join(2 * IN_TIME_S + 5)
            holder[0].kill()
            recorded = _recorded(ctx.ledger)
            saved = work / "saved-before-delete.db"
            if saved.exists():
                recorded |= _recorded(str(saved))
        return _row(sc, load.sent, recorded, ctx.fault_end)
    finally:
        if not os.environ.get("TG_FAULTS_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def _row(sc: Scenario, sent: list[Sent], recorded: set[str], fault_end: float) -> Row:
    in_time = [s for s in sent if s.answered_s is not None and s.answered_s < IN_TIME_S]
    lost = [s for s in sent if s.recorded_claimed and s.uid not in recorded]
    recover: float | None = None
    for s in sorted(sent, key=lambda s: s.at):
        if s.at < fault_end:
            continue
        if s in in_time and s.uid in recorded:
            recover = max(0.0, s.at - fault_end)
            break
    return Row(
        sc.name,
        sc.backend,
        len(sent),
        len(in_time),
        sum(1 for s in sent if s.uid in recorded),
        len(lost),
        sum(1 for s in in_time if s.not_recorded),
        recover,
        sc.note,
    )


def _wait_file(path: Path, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.05)


@contextlib.contextmanager
def _fault_env(sc: Scenario, work: Path) -> Iterator[str | None]:
    """The disk-full scenario's ledger lives on a small tmpfs; the others need nothing."""
    if sc.name != "disk full":
        yield None
        return
    mount = work / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        yield str(mount / "ledger.db")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# --- the faults -----------------------------------------------------------------------------


def _workers(served: Served) -> list[int]:
    return [p for p in served.pids() if p != served.proc.pid]


def kill_worker(ctx: Context) -> None:
    os.kill(_workers(ctx.served)[0], signal.SIGKILL)


def kill_master(ctx: Context) -> None:
    os.kill(ctx.served.proc.pid, signal.SIGKILL)
    ctx.fault_end = time.monotonic()  # recovery counts from the kill: the restart is part of it
    ctx.restart()  # what the kubelet does (without its back-off)


def pg_stopped(ctx: Context) -> None:
    assert ctx.pg is not None
    pg_ctl(ctx.pg, "stop", "-m", "immediate")
    time.sleep(FAULT_FOR_S)
    pg_ctl(ctx.pg, "start")
    ctx.fault_end = time.monotonic()


def pg_hung(ctx: Context) -> None:
    assert ctx.pg is not None
    pids = _pg_pids(ctx.pg)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(FAULT_FOR_S)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    ctx.fault_end = time.monotonic()


def _pg_pids(pg: PostgresServer) -> list[int]:
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
    return pids


def disk_full(ctx: Context) -> None:
    filler = Path(ctx.ledger).parent / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
    time.sleep(FAULT_FOR_S)
    filler.unlink()
    ctx.fault_end = time.monotonic()


def file_deleted(ctx: Context) -> None:
    # Hard links keep the deleted file's records countable (an operator would restore them
    # from a backup); the path itself is gone, as with an `rm`.
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            os.link(ctx.ledger + suffix, str(ctx.work / "saved-before-delete.db") + suffix)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ctx.ledger + suffix)
    time.sleep(FAULT_FOR_S)
    ctx.restart("/healthz")  # a restart alone must not start a fresh, empty chain in its place
    ctx.fault_end = time.monotonic()


def slow_clients(ctx: Context) -> None:
    stop = threading.Event()
    port = ctx.served.port
    tls = ssl.create_default_context(cafile=str(ctx.work / "tls" / "tls.crt"))
    socks: list[socket.socket] = []

    def trickle() -> None:
        with contextlib.suppress(OSError):
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn = tls.wrap_socket(raw, server_hostname="127.0.0.1")
            socks.append(conn)
            conn.sendall(
                b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            )
            while not stop.wait(2.0):
                conn.sendall(b"{")

    for _ in range(16):  # idle TCP connections, no TLS hello
        with contextlib.suppress(OSError):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(FAULT_FOR_S)
    stop.set()
    for s in socks:
        with contextlib.suppress(OSError):
            s.close()
    ctx.fault_end = time.monotonic()


POISON = [
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"p",'
    b'"object":{"metadata":{"name":"\\ud800"}}}}',
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"p",'
    b'"object":{"spec":{"replicas":NaN}}}}',
]


def poison_input(ctx: Context) -> None:
    tls = ssl.create_default_context(cafile=str(ctx.work / "tls" / "tls.crt"))
    end = time.monotonic() + FAULT_FOR_S
    n = 0
    while time.monotonic() < end:
        with contextlib.suppress(OSError, ssl.SSLError):
            conn = HTTPSConnection("127.0.0.1", ctx.served.port, context=tls, timeout=IN_TIME_S)
            conn.request("POST", "/validate", POISON[n % 2], {"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()
        n += 1
        time.sleep(0.25)
    ctx.fault_end = time.monotonic()


SCENARIOS = [
    Scenario("kill -9 worker", "sqlite", kill_worker),
    Scenario("kill -9 master", "sqlite", kill_master, "restarted at once"),
    Scenario("kill -9 worker", "postgresql", kill_worker),
    Scenario("PostgreSQL stopped", "postgresql", pg_stopped, "pg_ctl stop -m immediate, 4 s"),
    Scenario("PostgreSQL hung", "postgresql", pg_hung, "SIGSTOP of every server process, 4 s"),
    Scenario("disk full", "sqlite", disk_full, "8 MiB tmpfs filled for 4 s", needs_root=True),
    Scenario("SQLite file deleted", "sqlite", file_deleted, "restarted after 4 s; needs a restore"),
    Scenario("slow clients", "sqlite", slow_clients, "8 trickling bodies + 16 idle TCP, 4 s"),
    Scenario("poison input", "sqlite", poison_input, "lone surrogate / NaN, 4/s for 4 s"),
]


# --- report ---------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | ledger | sent | in time (< 3 s) | recorded | lost | not recorded "
        "(failure mode) | recover s | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        recover = "—" if r.recover_s is None else f"{r.recover_s:.1f}"
        lines.append(
            f"| {r.name} | {r.backend} | {r.sent} | {r.in_time} | {r.recorded} | {r.lost} | "
            f"{r.not_recorded} | {recover} | {r.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="scenario names (substring match)")
    parser.add_argument("--rate", type=float, default=20.0, help="reviews per second")
    parser.add_argument(
        "--after", type=float, default=8.0, help="seconds of load after the fault is lifted"
    )
    args = parser.parse_args()
    if not 1 <= args.rate <= 200 or not 2 <= args.after <= 60:
        raise SystemExit("--rate must be 1..200 and --after 2..60 (bounded load)")
    chosen = [
        s for s in SCENARIOS if not args.only or any(o.lower() in s.name.lower() for o in args.only)
    ]
    pg = start_postgres() if any(s.backend == "postgresql" for s in chosen) else None
    rows: list[Row] = []
    try:
        for sc in chosen:
            if sc.needs_root and os.geteuid() != 0:
                print(f"skipped {sc.name}: mounting a small tmpfs needs root", flush=True)
                continue
            row = run_scenario(sc, args.rate, args.after, pg)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    finally:
        if pg is not None:
            stop_postgres(pg)
    load = os.getloadavg()
    print(
        f"\n{args.rate:g} reviews/s; fault {FAULT_AT_S:g} s after the load starts, load for "
        f"{args.after:g} s after it is lifted; load average {load[0]:.1f} {load[1]:.1f} "
        f"{load[2]:.1f}\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
