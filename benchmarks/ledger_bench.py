"""What a durable append costs: ledger append latency and throughput per backend and setting.

Run:  .venv/bin/python -m benchmarks.ledger_bench [--appends N] [--threads T] [--dir PATH]

Each row appends N intent records (the size the webhook writes: one Deployment image change)
through the real store, one at a time, and reports the median and p99 latency of ``append``
and appends per second; then T threads append N records together through one store (a gunicorn
worker with T threads). SQLite ``synchronous=FULL`` (what truthgate uses) is measured side by
side with ``NORMAL`` (the baseline: no fsync per commit) in the same run on the same disk, and
PostgreSQL (``synchronous_commit=on``) when server binaries are on the machine (a throwaway
server like the tests start, fsync on). ``verify`` time over the appended chain is printed too.
Absolute numbers depend on the disk's fsync latency: quote the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.ledger.ledger_support import draft
from webhooks.ledger.open import open_store
from webhooks.ledger.sqlite_store import SqliteStore
from webhooks.ledger.store import IntentStore


@dataclass
class Row:
    name: str
    median_ms: float
    p99_ms: float
    per_s: float
    threaded_per_s: float
    verify_ms: float


def _measure(name: str, make: Callable[[], IntentStore], appends: int, threads: int) -> Row:
    store = make()
    try:
        for i in range(20):  # warm-up: connections, pages, statement caches
            store.append(draft(f"warm-{i}"))
        latencies = []
        started = time.perf_counter()
        for i in range(appends):
            t0 = time.perf_counter()
            store.append(draft(f"seq-{i}", image=f"registry.example.com/shop/web:1.{i}"))
            latencies.append(time.perf_counter() - t0)
        sequential_s = time.perf_counter() - started

        def work(t: int) -> None:
            for i in range(appends // threads):
                store.append(draft(f"thr-{t}-{i}"))

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        threaded_s = time.perf_counter() - started

        t0 = time.perf_counter()
        report = store.verify()
        verify_s = time.perf_counter() - t0
        assert report.ok, report
    finally:
        store.close()
    latencies.sort()
    return Row(
        name,
        statistics.median(latencies) * 1000,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        appends / sequential_s,
        (appends // threads) * threads / threaded_s,
        verify_s * 1000,
    )


def _postgres_rows(appends: int, threads: int) -> list[Row]:
    try:
        from tests.support.postgres import start_postgres, stop_postgres

        server = start_postgres()
    except BaseException as e:  # pytest.skip raises a BaseException subclass
        print(f"(PostgreSQL skipped: {e})")
        return []
    try:
        dsn = server.create_database("bench")
        return [
            _measure("PostgreSQL, synchronous_commit=on", lambda: open_store(dsn), appends, threads)
        ]
    finally:
        stop_postgres(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        full = _measure(
            "SQLite WAL, synchronous=FULL",
            lambda: SqliteStore(f"{tmp}/full.db", synchronous="FULL"),
            args.appends,
            args.threads,
        )
        normal = _measure(
            "SQLite WAL, synchronous=NORMAL (baseline)",
            lambda: SqliteStore(f"{tmp}/normal.db", synchronous="NORMAL"),
            args.appends,
            args.threads,
        )
    rows = [full, normal, *_postgres_rows(args.appends, args.threads)]

    print(f"\n{args.appends} appends, one at a time; then {args.threads} threads on one store\n")
    header = (
        f"| {'backend':<42} | median ms | p99 ms | appends/s | {args.threads} threads/s "
        f"| verify ms | median vs NORMAL |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(
            f"| {r.name:<42} | {r.median_ms:9.2f} | {r.p99_ms:6.2f} | {r.per_s:9.0f} "
            f"| {r.threaded_per_s:{len(str(args.threads)) + 10}.0f} | {r.verify_ms:9.0f} "
            f"| {r.median_ms / normal.median_ms:15.1f}x |"
        )


if __name__ == "__main__":
    main()
