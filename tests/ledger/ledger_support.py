"""Drafts, raw SQL and worker processes shared by the ledger tests."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from tests.support.postgres import PostgresServer
from webhooks.ledger import open_store
from webhooks.ledger.url import parse_ledger_url


def draft(
    uid: str,
    *,
    app: str | None = "shop-web",
    namespace: str | None = "shop",
    at: str = "2026-11-27T10:00:00Z",
    image: str = "registry.example.com/shop/web:1.0.0",
) -> dict[str, Any]:
    """An intent draft as the webhook builds it (no prevHash/hash)."""
    return {
        "uid": uid,
        "time": at,
        "app": app,
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "namespace": namespace,
        "name": "web",
        "operation": "UPDATE",
        "actor": {
            "username": "system:serviceaccount:argocd:argocd-application-controller",
            "groups": ["system:serviceaccounts"],
            "class": "argocd",
        },
        "patch": [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}
        ],
        "decision": {"allowed": True, "denials": [], "warnings": []},
        "dryRun": False,
    }


def raw_sql(url: str, *statements: str) -> None:
    """Run SQL behind the ledger's back, in one transaction (how a tamperer would)."""
    parsed = parse_ledger_url(url)
    if parsed.backend == "sqlite":
        conn = sqlite3.connect(parsed.target, isolation_level=None)
        try:
            conn.execute("BEGIN")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with psycopg.connect(parsed.target) as pg:
        for statement in statements:
            pg.execute(statement)


@contextlib.contextmanager
def chain_lock_held(url: str) -> Iterator[None]:
    """Hold the ledger's append lock from another connection (a slow or stuck writer)."""
    parsed = parse_ledger_url(url)
    if parsed.backend == "sqlite":
        conn = sqlite3.connect(parsed.target, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    with psycopg.connect(parsed.target) as pg:
        pg.execute("SELECT * FROM chain_head WHERE id = 1 FOR UPDATE")
        yield
        pg.rollback()


def append_many(url: str, prefix: str, count: int) -> None:
    """Worker process body: ``count`` appends through its own store."""
    store = open_store(url)
    try:
        for i in range(count):
            store.append(draft(f"{prefix}-{i}", image=f"web:{prefix}.{i}"))
    finally:
        store.close()


def server_pids(server: PostgresServer) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, WAL writer …)."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            pids.append(int(stat.parent.name))
    return pids


@contextlib.contextmanager
def server_stopped(server: PostgresServer) -> Iterator[None]:
    """SIGSTOP the whole server (a hung host, or a commit waiting on a silent standby)."""
    pids = server_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def truthgate(*args: str, ledger: str | None = None) -> subprocess.CompletedProcess[str]:
    """``truthgate ARGS`` in a fresh process, with no TRUTHGATE_* settings but the ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUTHGATE_")}
    if ledger is not None:
        env["TRUTHGATE_LEDGER"] = ledger
    return subprocess.run(
        [sys.executable, "-m", "webhooks", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
