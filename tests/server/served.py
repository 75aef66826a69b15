"""Start the real ``truthgate serve`` (gunicorn over TLS) on loopback and talk to it.

The command runs as a subprocess in its own session, so the master and every worker can be
signalled together (SIGTERM to stop, SIGKILL to crash). Its output goes to files that the
assertions read; a start is awaited on an endpoint with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any

from tests.support.net import free_port

TRUTHGATE = str(Path(sys.executable).with_name("truthgate"))
START_DEADLINE_S = 20.0
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    cwd: Path
    ca: Path | None  # file to verify the server with
    stdout_path: Path
    stderr_path: Path
    _ctx: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        return self._ctx

    def connect(self) -> HTTPSConnection:
        return HTTPSConnection(
            "127.0.0.1", self.port, context=self.context(), timeout=REQUEST_TIMEOUT_S
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(response.status, response.read())
        finally:
            conn.close()

    def send_early_answered(self, body: bytes, headers: dict[str, str]) -> Reply:
        """POST a body the server may answer (413) and close on before it is all sent.

        Like curl, keep reading even when the server stops reading: the answer is already in
        our receive buffer.
        """
        conn = self.connect()
        try:
            conn.putrequest("POST", "/validate")
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                for i in range(0, len(body), 64 * 1024):
                    conn.send(body[i : i + 64 * 1024])
            except OSError:
                pass  # expected: the server answered and closed
            response = conn.getresponse()
            return Reply(response.status, response.read())
        finally:
            conn.close()

    def review(self, review: dict[str, Any]) -> dict[str, Any]:
        reply = self.request(
            "POST",
            "/validate?timeout=10s",
            json.dumps(review).encode(),
            {"Content-Type": "application/json"},
        )
        assert reply.status == 200, (reply.status, reply.body[:300], self.stderr[-2000:])
        response: dict[str, Any] = reply.json()["response"]
        return response

    def wait_for(self, path: str, status: int = 200, deadline: float = START_DEADLINE_S) -> None:
        end = time.monotonic() + deadline
        last = "no answer"
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"truthgate serve exited {self.proc.returncode}:\n{self.stdout}\n{self.stderr}"
                )
            try:
                reply = self.request("GET", path)
                if reply.status == status:
                    return
                last = f"{reply.status} {reply.body[:200]!r}"
            except (OSError, ssl.SSLError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(f"{path} never answered {status} ({last}):\n{self.stderr[-3000:]}")

    def pids(self) -> list[int]:
        """The master and its workers (everything in the server's session)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "-s", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return [int(p) for p in out.stdout.split()]

    def kill(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def start(
    cwd: Path,
    *args: str,
    ca: Path | None,
    wait_path: str = "/readyz",
    wait_status: int = 200,
    env: dict[str, str] | None = None,
) -> Served:
    """``truthgate serve --bind 127.0.0.1:<free port> *args`` in ``cwd``, awaited on a path."""
    port = free_port()
    out, err = cwd / f"serve-{port}.out", cwd / f"serve-{port}.err"
    full_env = {**os.environ, "TRUTHGATE_LOG_LEVEL": "INFO", **(env or {})}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [TRUTHGATE, "serve", "--bind", f"127.0.0.1:{port}", *args],
            cwd=cwd,
            stdout=o,
            stderr=e,
            env=full_env,
            start_new_session=True,
        )
    served = Served(proc, port, cwd, ca, out, err)
    try:
        if ca is not None:
            served.wait_for(wait_path, wait_status)
    except BaseException:
        served.kill(signal.SIGKILL)
        raise
    return served


@contextlib.contextmanager
def serving(cwd: Path, *args: str, ca: Path | None, **kw: Any) -> Iterator[Served]:
    served = start(cwd, *args, ca=ca, **kw)
    try:
        yield served
    finally:
        served.kill()


def truthgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRUTHGATE, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=30
    )
