"""The real ``truthgate serve``: gunicorn workers over TLS on loopback, as a user runs it."""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.server.reviews import ALICE, POLICIES, deployment_update
from tests.server.served import Served, serving, start, truthgate
from tests.support.net import free_port
from webhooks.ledger import open_store

pytestmark = pytest.mark.gunicorn

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(ca, cert, key) from a throwaway CA, as cert-manager or the chart would provide."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d = tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "tls.crt"))
    cert.private_key_pem.write_to_path(str(d / "tls.key"))
    return d / "ca.pem", d / "tls.crt", d / "tls.key"


def tls_args(tls_files: tuple[Path, Path, Path]) -> tuple[str, ...]:
    _, cert, key = tls_files
    return ("--tls-cert", str(cert), "--tls-key", str(key))


@pytest.fixture(scope="module")
def sqlite_server(
    tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Path, Path, Path]
) -> Iterator[Served]:
    """One server for the read-mostly tests: 2 workers, SQLite ledger, the shipped policies."""
    cwd = tmp_path_factory.mktemp("serve")
    with serving(
        cwd,
        "--ledger",
        "ledger.db",
        "--workers",
        "2",
        "--threads",
        "2",
        *tls_args(tls_files),
        ca=tls_files[0],
    ) as served:
        yield served


def intents_cli(ledger: str, cwd: Path) -> list[dict[str, object]]:
    out = truthgate("intents", "--ledger", ledger, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_story_argocd_update_recorded_and_the_same_change_by_alice_denied(
    sqlite_server: Served,
) -> None:
    review = deployment_update()
    response = sqlite_server.review(review)
    assert response == {"uid": review["request"]["uid"], "allowed": True}
    # The answer came after the write: the record is in the ledger as soon as we have it.
    recorded = {r["uid"]: r for r in intents_cli("ledger.db", sqlite_server.cwd)}
    assert recorded[review["request"]["uid"]]["app"] == "shop-web"

    by_alice = sqlite_server.review(deployment_update(username=ALICE))
    assert by_alice["allowed"] is False
    assert "set annotation truthgate.dev/break-glass=<ticket>" in by_alice["status"]["message"]
    assert f'"uid":"{review["request"]["uid"]}"' in sqlite_server.stderr


def test_a_4_mib_body_is_refused_with_413_and_the_next_request_is_served(
    sqlite_server: Served,
) -> None:
    big = b'{"pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    reply = sqlite_server.send_early_answered(big, {**JSON, "Content-Length": str(len(big))})
    assert reply.status == 413
    assert "larger than 3 MiB" in reply.json()["error"]
    assert sqlite_server.review(deployment_update())["allowed"] is True


def test_a_chunked_body_over_3_mib_is_refused_with_413(sqlite_server: Served) -> None:
    chunk = b"x" * (256 * 1024)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(16)) + b"0\r\n\r\n"
    reply = sqlite_server.send_early_answered(chunked, {**JSON, "Transfer-Encoding": "chunked"})
    assert reply.status == 413
    assert sqlite_server.review(deployment_update())["allowed"] is True


def test_malformed_json_over_https_is_a_400_with_a_json_error(sqlite_server: Served) -> None:
    reply = sqlite_server.request("POST", "/validate", b"{not json", JSON)
    assert reply.status == 400
    assert "not JSON" in reply.json()["error"]


def test_every_100th_answer_on_a_connection_closes_it_politely(sqlite_server: Served) -> None:
    # A kept-alive connection stays with one worker; closing it now and then lets the
    # client's next connection land on whichever worker is free (load spreads again).
    conn = sqlite_server.connect()
    try:
        said = []
        for _ in range(100):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            said.append(response.getheader("Connection"))
        assert said[:99] == ["keep-alive"] * 99
        assert said[99] == "close"
        conn.request("GET", "/healthz")  # http.client reconnects, as any client does
        again = conn.getresponse()
        assert again.status == 200 and again.getheader("Connection") == "keep-alive"
        again.read()
    finally:
        conn.close()


def test_metrics_count_decisions_across_workers(sqlite_server: Served) -> None:
    def totals() -> dict[str, float]:
        text = sqlite_server.request("GET", "/metrics").body.decode()
        found = re.findall(
            r'^truthgate_admission_requests_total\{decision="(\w+)"\} (\S+)$', text, re.M
        )
        return {k: float(v) for k, v in found}

    before = totals()
    for _ in range(12):  # a new connection each: gunicorn spreads them over its workers
        sqlite_server.review(deployment_update())
    for _ in range(3):
        sqlite_server.review(deployment_update(username=ALICE))
    # Whichever worker answers the scrape, it reports every worker's reviews.
    for _ in range(4):
        after = totals()
        assert after["allowed"] - before["allowed"] == 12
        assert after["denied"] - before["denied"] == 3
    scrape = sqlite_server.request("GET", "/metrics").body.decode()
    assert "truthgate_ledger_write_seconds_bucket" in scrape


def test_sigkill_right_after_an_acknowledged_review_loses_nothing(
    tmp_path: Path, tls_files: tuple[Path, Path, Path]
) -> None:
    served = start(tmp_path, "--ledger", "ledger.db", *tls_args(tls_files), ca=tls_files[0])
    try:
        reviews = [deployment_update() for _ in range(5)]
        for review in reviews:
            assert served.review(review)["allowed"] is True
        pids = served.pids()
        assert len(pids) >= 3  # master and two workers
    finally:
        served.kill(signal.SIGKILL)  # master and workers at once, no shutdown code runs
    store = open_store(str(tmp_path / "ledger.db"), create=False)
    try:
        stored = {r["uid"] for r in store.intents()}
        assert {r["request"]["uid"] for r in reviews} <= stored
        assert store.verify().ok
    finally:
        store.close()
    check = truthgate("intents", "verify", "--ledger", "ledger.db", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "chain OK: 5 records" in check.stdout


@pytest.mark.postgres
def test_the_story_with_a_postgresql_ledger(
    tmp_path: Path, tls_files: tuple[Path, Path, Path], fresh_postgres_dsn: str
) -> None:
    with serving(
        tmp_path,
        *tls_args(tls_files),
        ca=tls_files[0],
        env={"TRUTHGATE_LEDGER": fresh_postgres_dsn},
    ) as served:
        review = deployment_update()
        assert served.review(review)["allowed"] is True
        assert served.review(deployment_update(username=ALICE))["allowed"] is False
        password = re.search(r"//[^:]+:([^@]+)@", fresh_postgres_dsn)
        assert password is not None
        assert password.group(1) not in served.stdout + served.stderr
        assert "***" in served.stdout  # the ledger line shows the URL, password masked
    records = intents_cli(fresh_postgres_dsn, tmp_path)
    assert records[0]["uid"] == review["request"]["uid"]
    assert [r["decision"]["allowed"] for r in records] == [True, False]  # type: ignore[index]


def closed_port() -> int:
    port = free_port()
    with socket.socket() as s:  # nobody listens there: connections are refused at once
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


@pytest.mark.parametrize("mode", ["fail-open", "fail-closed"])
def test_ledger_unreachable_follows_the_failure_mode_and_readyz_says_503(
    tmp_path: Path, tls_files: tuple[Path, Path, Path], mode: str
) -> None:
    ledger = f"postgresql://truthgate:hunter2@127.0.0.1:{closed_port()}/truthgate"
    with serving(
        tmp_path,
        "--ledger",
        ledger,
        "--failure-mode",
        mode,
        *tls_args(tls_files),
        ca=tls_files[0],
        wait_path="/healthz",
    ) as served:
        assert "NOT reachable" in served.stdout
        ready = served.request("GET", "/readyz")
        assert ready.status == 503
        assert "ledger" in ready.json()["reason"]
        response = served.review(deployment_update())
        if mode == "fail-open":
            assert response["allowed"] is True
            assert any("intent not recorded" in w for w in response["warnings"])
        else:
            assert response["allowed"] is False
            assert "ledger is unavailable" in response["status"]["message"]
        assert "hunter2" not in served.stdout + served.stderr


def test_without_a_cert_a_self_signed_pair_is_made_said_and_served(tmp_path: Path) -> None:
    served = start(tmp_path, "--ledger", "x.db", ca=None)
    try:
        ca = _await_ca_line(served)
        served.ca = ca
        served.wait_for("/readyz")
        assert served.review(deployment_update())["allowed"] is True
        # Verified for real: a client that does not trust that file refuses the server.
        strict = ssl.create_default_context()
        with (
            pytest.raises(ssl.SSLCertVerificationError),
            socket.create_connection(("127.0.0.1", served.port), timeout=5) as raw,
        ):
            strict.wrap_socket(raw, server_hostname="127.0.0.1")
    finally:
        served.kill()
    assert ca == (tmp_path / ".truthgate" / "tls" / "tls.crt").resolve()
    assert stat.S_IMODE((ca.parent / "tls.key").stat().st_mode) == 0o600


def _await_ca_line(served: Served) -> Path:
    end = time.monotonic() + 20
    while time.monotonic() < end:
        found = re.search(r"CA to trust \(webhook caBundle\): (\S+)", served.stdout)
        if found:
            return Path(found.group(1))
        assert served.proc.poll() is None, served.stderr
        time.sleep(0.1)
    raise AssertionError(f"no CA path printed:\n{served.stdout}\n{served.stderr}")


def test_sighup_reloads_policies_without_a_restart(
    tmp_path: Path, tls_files: tuple[Path, Path, Path]
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for source in POLICIES.rglob("*"):
        target = policies / source.relative_to(POLICIES)
        if source.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(source.read_bytes())
    with serving(
        tmp_path,
        "--ledger",
        "x.db",
        "--policies",
        str(policies),
        *tls_args(tls_files),
        ca=tls_files[0],
    ) as served:
        assert served.review(deployment_update())["allowed"] is True
        (policies / "frozen.rego").write_text(FREEZE)
        served.proc.send_signal(signal.SIGHUP)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            response = served.review(deployment_update())
            if not response["allowed"]:
                break
            time.sleep(0.2)
        assert response["allowed"] is False
        assert "change freeze" in response["status"]["message"]
        assert served.request("GET", "/readyz").json()["policies"] == 4


FREEZE = """# METADATA
# title: Change freeze
# description: Nothing changes during the freeze.
# custom:
#   kinds: ["Deployment"]
package truthgate.admission.frozen

import rego.v1

deny contains "change freeze until Monday" if input.request.operation == "UPDATE"
"""
