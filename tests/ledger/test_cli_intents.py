"""`truthgate intents` as a user runs it: the real command in a subprocess."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

from tests.ledger.ledger_support import draft, raw_sql, truthgate
from tests.support.net import free_port
from webhooks.cli.intents import parse_when
from webhooks.ledger import open_store

NOW = datetime.now(UTC)


def _ago(**kw: float) -> str:
    return (NOW - timedelta(**kw)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def filled(ledger_url: str) -> str:
    store = open_store(ledger_url)
    try:
        store.append(draft("old", app="shop-web", namespace="shop", at=_ago(days=3)))
        store.append(draft("mid", app="billing", namespace="billing", at=_ago(hours=5)))
        store.append(draft("new", app="shop-web", namespace="shop", at=_ago(minutes=10)))
    finally:
        store.close()
    return ledger_url


def _uids(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert out.returncode == 0, out.stderr
    return [json.loads(line)["uid"] for line in out.stdout.splitlines()]


def test_intents_prints_json_lines_and_filters(filled: str) -> None:
    everything = truthgate("intents", ledger=filled)
    assert _uids(everything) == ["old", "mid", "new"]
    first = json.loads(everything.stdout.splitlines()[0])
    assert first["patch"][0]["path"] == "/spec/template/spec/containers/0/image"
    assert len(first["hash"]) == 64

    assert _uids(truthgate("intents", "--ledger", filled, "--app", "shop-web")) == ["old", "new"]
    assert _uids(truthgate("intents", "--namespace", "billing", ledger=filled)) == ["mid"]
    assert _uids(truthgate("intents", "--since", "6h", ledger=filled)) == ["mid", "new"]
    assert _uids(
        truthgate("intents", "--app", "shop-web", "--until", _ago(hours=1), ledger=filled)
    ) == ["old"]


def test_verify_says_ok_then_names_the_tampered_record_with_exit_1(filled: str) -> None:
    ok = truthgate("intents", "verify", "--ledger", filled)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("chain OK: 3 records")

    raw_sql(
        filled, "UPDATE intents SET doc = replace(doc, 'billing', 'payments') WHERE uid = 'mid'"
    )
    broken = truthgate("intents", "verify", ledger=filled)
    assert broken.returncode == 1
    assert "chain BROKEN at record mid: edited" in broken.stdout


def test_prune_applies_retention_and_the_chain_still_verifies(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.db")
    store = open_store(ledger)
    store.append(draft("ancient", at=_ago(days=100)))
    store.append(draft("recent", at=_ago(days=1)))
    store.close()

    out = truthgate("intents", "prune", "--retention-days", "30", ledger=ledger)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pruned 1 records older than")
    assert _uids(truthgate("intents", ledger=ledger)) == ["recent"]
    verified = truthgate("intents", "verify", ledger=ledger)
    assert "chain OK: 1 records (after 1 pruned by retention)" in verified.stdout


def test_a_missing_ledger_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for args in (["intents"], ["intents", "verify"]):
        out = truthgate(*args, "--ledger", str(missing))
        assert out.returncode == 2
        assert f"truthgate: error: no ledger at {missing}" in out.stderr
    assert not missing.exists()


def test_without_a_ledger_the_command_says_how_to_name_one() -> None:
    out = truthgate("intents", "verify")
    assert out.returncode == 2
    assert "--ledger URL (or TRUTHGATE_LEDGER) is required" in out.stderr


def test_an_app_named_ns_slash_name_is_told_the_key_the_ledger_uses(filled: str) -> None:
    # The argocd CLI writes team-a/shop-web; Argo CD's tracking, and so the ledger, team-a_shop-web.
    out = truthgate("intents", "--app", "team-a/shop-web", ledger=filled)
    assert out.returncode == 2
    assert "'team-a_shop-web' for one in namespace 'team-a'" in " ".join(out.stderr.split())


def test_a_bad_time_is_a_usage_error(tmp_path: Path) -> None:
    out = truthgate("intents", "--since", "last tuesday", ledger=str(tmp_path / "x.db"))
    assert out.returncode == 2
    assert "neither RFC 3339" in out.stderr


def test_unreachable_postgres_is_reported_without_the_password() -> None:
    port = free_port()
    out = truthgate(
        "intents",
        "verify",
        "--ledger",
        f"postgresql://auditor:Very-Secret-1@127.0.0.1:{port}/ledger",
    )
    assert out.returncode == 2
    assert "cannot reach ledger postgresql://auditor:***@127.0.0.1" in out.stderr
    assert "Very-Secret-1" not in out.stderr + out.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("45s", NOW - timedelta(seconds=45)),
        ("1h30m", NOW - timedelta(minutes=90)),  # as the TruthCheck CRD spells durations
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T11:00:00+01:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
    ],
)
def test_times_are_rfc3339_or_relative_to_now(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["2x", "yesterday", "2026-11-27T10:00:00", "-2h"])
def test_unreadable_or_zoneless_times_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_when(text, NOW)
