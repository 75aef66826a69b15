"""The real ``truthgate serve`` against clients that are slow, silent, malformed or poisonous.

Whatever arrives, legitimate reviews keep being answered in bounded time, and every refusal
is JSON. All on loopback, every loop bounded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent import futures

import pytest
import trustme

from tests.server.reviews import deployment_update
from tests.server.served import Served, serving

pytestmark = pytest.mark.gunicorn

JSON = {"Content-Type": "application/json"}
ANSWER_WITHIN_S = 3.0  # well inside the API server's webhook timeout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """2 workers x 2 threads: four threads, fewer than the hostile connections below."""
    cwd = tmp_path_factory.mktemp("hostile")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(cwd / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cwd / "tls.crt"))
    cert.private_key_pem.write_to_path(str(cwd / "tls.key"))
    with serving(
        cwd,
        "--ledger",
        "ledger.db",
        "--workers",
        "2",
        "--threads",
        "2",
        "--tls-cert",
        str(cwd / "tls.crt"),
        "--tls-key",
        str(cwd / "tls.key"),
        ca=cwd / "ca.pem",
    ) as served:
        yield served


def timed_reviews(server: Served, count: int) -> list[float]:
    """Seconds each of ``count`` normal reviews took (a new connection each), in parallel."""

    def one(_: int) -> float:
        start = time.monotonic()
        conn = server.connect()
        conn.timeout = ANSWER_WITHIN_S * 2
        try:
            body = json.dumps(deployment_update()).encode()
            conn.request("POST", "/validate", body, JSON)
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["response"]["allowed"] is True
        finally:
            conn.close()
        return time.monotonic() - start

    with futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


@contextlib.contextmanager
def open_sockets(count: int, port: int) -> Iterator[list[socket.socket]]:
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    try:
        yield socks
    finally:
        for s in socks:
            s.close()


def test_silent_connections_without_a_tls_hello_hold_no_thread(server: Served) -> None:
    with open_sockets(16, server.port):
        took = timed_reviews(server, 10)
    assert max(took) < ANSWER_WITHIN_S, took


def test_slow_body_trickles_hold_no_thread_and_are_cut_off(server: Served) -> None:
    body = json.dumps(deployment_update()).encode()
    head = (
        f"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    context = server.context()
    slow: list[ssl.SSLSocket] = []
    try:
        for _ in range(8):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
            tls.sendall(head + body[:10])
            slow.append(tls)
        took: list[float] = []
        cut_off = 0
        deadline = time.monotonic() + 12  # the server's read deadline is 5 s
        for i in range(12):
            if time.monotonic() > deadline:
                break
            for s in slow:  # one more byte each, every second or so
                with contextlib.suppress(OSError):
                    s.sendall(body[10 + i : 11 + i])
            took.extend(timed_reviews(server, 2))
            time.sleep(0.5)
        for s in slow:
            s.settimeout(2)
            try:
                cut_off += s.recv(1) == b""
            except OSError:
                cut_off += 1
    finally:
        for s in slow:
            s.close()
    assert max(took) < ANSWER_WITHIN_S, took
    assert cut_off == len(slow)  # none was kept past the read deadline


def test_clients_that_never_close_after_connection_close_stall_nothing(server: Served) -> None:
    # Each gets its answer with "Connection: close" and keeps the socket open; closing it must
    # not wait on the event loop (gthread's graceful close would wait up to 2 s for each).
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    context = server.context()
    held: list[ssl.SSLSocket] = []
    start = time.monotonic()
    try:
        for _ in range(8):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
            tls.sendall(request)
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")
            held.append(tls)
        took = timed_reviews(server, 8)
        total = time.monotonic() - start
    finally:
        for s in held:
            s.close()
    assert total < 4.0, (total, took)  # 8 stalls of up to 2 s over 2 workers: 8 s


POISON = {
    "lone surrogate": ('"web"', '"\\ud800"', "lone surrogate"),
    "NaN": ('"replicas": 3', '"replicas": NaN', "NaN"),
    "Infinity": ('"replicas": 3', '"replicas": Infinity', "Infinity"),
    "1e400": ('"replicas": 3', '"replicas": 1e400', "too large"),
}


def test_poison_input_is_a_400_and_the_workers_live_on(server: Served) -> None:
    pids = sorted(server.pids())
    text = json.dumps(deployment_update())
    for target, replacement, reason in POISON.values():
        assert target in text
        for _ in range(3):  # each worker would have crashed on the first
            poisoned = text.replace(target, replacement, 1).encode()
            reply = server.request("POST", "/validate", poisoned, JSON)
            assert reply.status == 400, reply.body[:200]
            assert reason in reply.json()["error"]
    raw_surrogate = text.encode().replace(b'"web"', b'"\xed\xa0\x80"', 1)
    reply = server.request("POST", "/validate", raw_surrogate, JSON)
    assert reply.status == 400 and "UTF-8" in reply.json()["error"]
    assert sorted(server.pids()) == pids  # no worker died and was replaced
    assert server.review(deployment_update())["allowed"] is True


def raw_exchange(server: Served, data: bytes) -> tuple[int, str, dict[str, object]]:
    """Send raw bytes over TLS; the status, Content-Type and JSON body of the answer."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with server.context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(data)
        received = b""
        end = time.monotonic() + 5
        while time.monotonic() < end:
            chunk = tls.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers.get("content-type", ""), json.loads(body)


BAD_REQUESTS = {
    "Content-Length with Transfer-Encoding": (
        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "bad Content-Length": (
        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n{}",
        400,
    ),
    "request line too long (414)": (
        b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
    ),
    "too many headers (431)": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(60))
        + b"\r\n",
        431,
    ),
    "not HTTP": (b"HELLO THERE\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_requests_gunicorn_refuses_are_answered_in_json(server: Served, case: str) -> None:
    data, expected = BAD_REQUESTS[case]
    status, content_type, body = raw_exchange(server, data)
    assert status == expected
    assert content_type == "application/json"
    assert isinstance(body.get("error"), str) and body["error"]


def test_a_request_split_across_many_writes_is_served(server: Served) -> None:
    body = json.dumps(deployment_update()).encode()
    data = (
        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with server.context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        for i in range(0, len(data), 700):
            tls.sendall(data[i : i + 700])
            time.sleep(0.01)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert json.loads(received.partition(b"\r\n\r\n")[2])["response"]["allowed"] is True


def test_a_chunked_review_is_served(server: Served) -> None:
    body = json.dumps(deployment_update()).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000])
        for i in range(0, len(body), 1000)
    )
    data = (
        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    status, content_type, answer = raw_exchange(server, data)
    assert (status, content_type) == (200, "application/json")
    assert answer["response"]["allowed"] is True  # type: ignore[index]


def test_kept_alive_connections_serve_many_reviews(server: Served) -> None:
    conn = server.connect()
    try:
        for _ in range(5):
            conn.request("POST", "/validate", json.dumps(deployment_update()).encode(), JSON)
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["response"]["allowed"] is True
    finally:
        conn.close()
