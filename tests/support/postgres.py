"""A real PostgreSQL server for the test run, started from the machine's own binaries.

Tests that need PostgreSQL take the ``postgres_dsn`` fixture (one shared database for the
session) or ``fresh_postgres_dsn`` (a new empty database per test, dropped afterwards), both
registered in tests/conftest.py. The server:

* comes from ``/usr/lib/postgresql/<version>/bin`` (the newest found); without it the tests
  are skipped with the reason — CI installs the binaries, so there they run;
* runs as the ``postgres`` user when the tests run as root (the server refuses root), in a
  fresh temp directory owned by it;
* listens only on 127.0.0.1 on a free port, its unix socket inside the temp directory;
* keeps ``fsync=on`` (durability tests must mean something) and requires a password over TCP
  (scram-sha-256), so "no password in errors" is tested against real authentication;
* is stopped and its directory removed when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support.net import free_port

SUPERUSER = "postgres"
START_TIMEOUT_S = 30
# Settings appended to postgresql.conf: loopback only, small, durable.
_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
unix_socket_permissions = 0700
fsync = on
synchronous_commit = on
shared_buffers = 16MB
max_connections = 100
logging_collector = off
"""


@dataclass(frozen=True)
class PostgresServer:
    bin_dir: Path
    base_dir: Path
    host: str
    port: int
    password: str

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return (
            f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self.port}/{dbname}"
            "?connect_timeout=5"
        )

    def create_database(self, name: str) -> str:
        """Create database ``name`` (a plain identifier) and return its DSN."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _as_server_user() -> list[str]:
    """Command prefix running a program as the user the server accepts."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", SUPERUSER, "--"]


def _run(cmd: list[str], what: str) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed ({out.returncode}): {out.stderr[-2000:]}")


def start_postgres() -> PostgresServer:
    """Start a throwaway server (a few seconds); the caller must ``stop_postgres`` it."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0:
        try:
            import pwd

            owner = pwd.getpwnam(SUPERUSER)
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
    base = Path(tempfile.mkdtemp(prefix="tg-pg-"))
    password = secrets.token_hex(12)
    try:
        if os.geteuid() == 0:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        pwfile = base / "pw"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        _run(
            [
                *_as_server_user(),
                str(bin_dir / "initdb"),
                "-D",
                str(base / "data"),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",  # only initdb's own files; the running server keeps fsync on
                "--no-instructions",
            ],
            "initdb",
        )
        pwfile.unlink()
        last_error = ""
        for _ in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            conf = base / "data" / "postgresql.conf"
            text = conf.read_text().split("\n# truthgate tests\n")[0]
            conf.write_text(text + "\n# truthgate tests\n" + _CONF.format(port=port, sockets=base))
            log = base / "server.log"
            out = subprocess.run(
                [
                    *_as_server_user(),
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(base / "data"),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ],
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S + 5,
                check=False,
            )
            if out.returncode == 0:
                return PostgresServer(bin_dir, base, "127.0.0.1", port, password)
            last_error = log.read_text()[-2000:] if log.exists() else out.stderr[-2000:]
        raise RuntimeError(f"PostgreSQL did not start: {last_error}")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


def pg_ctl(server: PostgresServer, *args: str) -> None:
    """``pg_ctl -D <data> -w <args>`` as the server's user (e.g. ``stop -m immediate``, ``start``)."""
    log = server.base_dir / "server.log"
    _run(
        [
            *_as_server_user(),
            str(server.bin_dir / "pg_ctl"),
            "-D",
            str(server.data_dir),
            "-l",
            str(log),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            *args,
        ],
        f"pg_ctl {' '.join(args)}",
    )


def stop_postgres(server: PostgresServer) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            [
                *_as_server_user(),
                str(server.bin_dir / "pg_ctl"),
                "-D",
                str(server.data_dir),
                "-m",
                "immediate",
                "-w",
                "-t",
                "20",
                "stop",
            ],
            capture_output=True,
            timeout=25,
            check=False,
        )
    shutil.rmtree(server.base_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """DSN of a database shared by the whole session (``postgresql://…`` with a password)."""
    return postgres_server.create_database("truthgate")


@pytest.fixture
def fresh_postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """DSN of a new, empty database for this test only (dropped afterwards)."""
    name = f"t_{secrets.token_hex(6)}"
    dsn = postgres_server.create_database(name)
    yield dsn
    postgres_server.drop_database(name)
