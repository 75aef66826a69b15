"""A real Prometheus for the tests, loaded with deterministic series, plus loopback stand-ins.

``prometheus_server`` (session scope) writes a few known series as OpenMetrics text, back-fills
them with ``promtool tsdb create-blocks-from openmetrics`` and starts Debian's ``prometheus`` on
a free loopback port. The data lies in the past (it ends a couple of hours before the test run,
on an hour boundary) because back-filled blocks must not reach into the head block; tests query
fixed times from ``SeriesLayout``, never "now".

``StandIn`` is a tiny threaded HTTP server on 127.0.0.1 whose answers a test scripts (a 503
twice then a success, a header recorder, a reverse proxy with a path prefix and a tenant
header); it records every request it saw.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import math
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.net import free_port

DAY = 86400
READY_DEADLINE_SECONDS = 20.0


@dataclass(frozen=True)
class SeriesLayout:
    """Where the interesting moments of the back-filled series are (unix seconds, UTC).

    * ``tg_step_gauge{job="web"}``: ``step_before`` until ``step_at``, ``step_after`` from then.
    * ``tg_requests_total{job="web"}``: a counter growing ``counter_rate``/s from ``day_start``,
      reset to 0 at ``counter_reset_at``, growing again.
    * ``tg_seasonal{job="web"}``: ``seasonal(t)``, a daily sine plus the number of whole days
      since ``seasonal_start`` — so the window one day back reads exactly 1 lower, one week back
      exactly 7 lower. Spans eight days and two hours.
    * ``tg_gappy{job="web"}``: ``gappy_value`` except no samples in ``[gap_start, gap_end)``.
    * ``tg_by_code{code="200"|"500"}``: two series, for the "aggregate it" error.

    All but ``tg_seasonal`` cover ``[day_start, anchor]``; one sample every ``interval`` seconds.
    """

    anchor: int
    interval: int = 60
    step_before: float = 1.0
    step_after: float = 5.0
    counter_rate: float = 2.0
    gappy_value: float = 7.0

    @property
    def day_start(self) -> int:
        return self.anchor - DAY

    @property
    def seasonal_start(self) -> int:
        return self.anchor - 8 * DAY - 7200

    @property
    def step_at(self) -> int:
        return self.anchor - 3 * 3600

    @property
    def counter_reset_at(self) -> int:
        return self.step_at + 600

    @property
    def gap_start(self) -> int:
        return self.anchor - 2 * 3600

    @property
    def gap_end(self) -> int:
        return self.gap_start + 1800

    def seasonal(self, t: float) -> float:
        days = (int(t) - self.seasonal_start) // DAY
        return 100.0 + 50.0 * math.sin(2 * math.pi * (int(t) % DAY) / DAY) + days

    def step(self, t: float) -> float:
        return self.step_before if t < self.step_at else self.step_after

    def counter(self, t: float) -> float:
        since = self.day_start if t < self.counter_reset_at else self.counter_reset_at
        return self.counter_rate * (t - since)


@dataclass(frozen=True)
class PrometheusServer:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    layout: SeriesLayout
    lookback_seconds: int = 300  # Prometheus' default --query.lookback-delta, kept as users have it


def _openmetrics(layout: SeriesLayout) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, samples: Iterator[tuple[str, float, int]]) -> None:
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{series} {value!r} {t}" for series, value, t in samples)

    day = range(layout.day_start, layout.anchor + 1, layout.interval)
    web = '{job="web"}'
    family("tg_step_gauge", "gauge", ((f"tg_step_gauge{web}", layout.step(t), t) for t in day))
    family(
        "tg_requests", "counter", ((f"tg_requests_total{web}", layout.counter(t), t) for t in day)
    )
    family(
        "tg_seasonal",
        "gauge",
        (
            (f"tg_seasonal{web}", layout.seasonal(t), t)
            for t in range(layout.seasonal_start, layout.anchor + 1, layout.interval)
        ),
    )
    family(
        "tg_gappy",
        "gauge",
        (
            (f"tg_gappy{web}", layout.gappy_value, t)
            for t in day
            if not layout.gap_start <= t < layout.gap_end
        ),
    )
    family(
        "tg_by_code",
        "gauge",
        (
            (f'tg_by_code{{code="{code}"}}', value, t)
            for code, value in (("200", 10.0), ("500", 1.0))
            for t in day
        ),
    )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited ({proc.returncode}):\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready in {READY_DEADLINE_SECONDS}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    binaries = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    missing = [name for name, path in binaries.items() if path is None]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (Debian package 'prometheus'; CI installs it)"
        )
    root = tmp_path_factory.mktemp("prometheus")
    now = int(time.time())
    layout = SeriesLayout(anchor=now // 3600 * 3600 - 2 * 3600)
    data = root / "series.om"
    data.write_text(_openmetrics(layout))
    tsdb = root / "tsdb"
    backfill = subprocess.run(
        [
            str(binaries["promtool"]),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            str(data),
            str(tsdb),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if backfill.returncode != 0:
        raise RuntimeError(f"promtool back-fill failed:\n{backfill.stderr[-2000:]}")
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")  # no scrape jobs: only back-filled data
    log_path = root / "prometheus.log"
    for _ in range(3):  # a free port can be taken between probing and binding: try another
        url = f"http://127.0.0.1:{free_port()}"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(binaries["prometheus"]),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tsdb}",
                    f"--web.listen-address={url[7:]}",
                    "--storage.tsdb.retention.time=30d",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_ready(url, proc, log_path)
        except RuntimeError:
            _stop(proc)
            if "address already in use" in _tail(log_path):
                continue
            raise
        break
    else:
        raise RuntimeError("prometheus found no free port in 3 tries")
    try:
        yield PrometheusServer(url=url, layout=layout)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- loopback stand-ins ------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # sleep before answering (a hung server)


Handler = Callable[[SeenRequest], Reply]


@dataclass
class StandIn:
    url: str
    seen: list[SeenRequest]


@contextlib.contextmanager
def stand_in(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[StandIn]:
    """Serve ``handler`` on a free loopback port for the ``with`` block (HTTPS given ``tls``).

    A client that fails the TLS handshake never reaches ``handler`` (the server drops it).
    """
    seen: list[SeenRequest] = []
    stop = threading.Event()

    class _Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = SeenRequest(
                method=self.command,
                path=self.path,
                headers={k: v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            seen.append(request)
            reply = handler(request)
            if reply.delay_seconds:
                stop.wait(reply.delay_seconds)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may have given up already
                self.wfile.write(reply.body)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet test output

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield StandIn(url=f"{scheme}://127.0.0.1:{server.server_address[1]}", seen=seen)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def matrix(points: list[tuple[float, str]], labels: dict[str, str] | None = None) -> bytes:
    """A Prometheus ``query_range`` success body holding one series."""
    return json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": labels or {}, "values": [[t, v] for t, v in points]}],
            },
        }
    ).encode()


def forward(target: str, request: SeenRequest, path: str) -> Reply:
    """Relay ``request`` to ``target + path`` (a minimal reverse proxy for prefix tests)."""
    outgoing = urllib.request.Request(
        target + path,
        data=request.body if request.method == "POST" else None,
        method=request.method,
        headers={"Content-Type": request.headers.get("Content-Type", "")},
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=10) as resp:
            return Reply(resp.status, resp.read(), {"Content-Type": "application/json"})
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read(), {"Content-Type": "application/json"})
