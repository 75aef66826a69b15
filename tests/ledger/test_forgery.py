"""Tampering that a plain hash chain cannot see is caught by the key's seal or a published head.

Each forgery is done the way someone with write access to the database would: SQL behind the
ledger's back, recomputing hashes where that helps them.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.ledger.ledger_support import draft, raw_sql, truthgate
from webhooks.ledger import open_store
from webhooks.ledger.intent import GENESIS, ExpectedHead, chain, encode
from webhooks.ledger.store import ChainReport, IntentStore

KEY = secrets.token_hex(32).encode()


@pytest.fixture
def keyed(ledger_url: str) -> str:
    store = open_store(ledger_url, key=KEY)
    try:
        for i in range(6):
            store.append(draft(f"u{i}", at=f"2026-11-2{i}T10:00:00Z", image=f"web:{i}"))
    finally:
        store.close()
    return ledger_url


def _verify(url: str, key: bytes | None = KEY, expect: ExpectedHead | None = None) -> ChainReport:
    store = open_store(url, create=False, key=key)
    try:
        return store.verify(expect)
    finally:
        store.close()


def _broken(report: ChainReport, why: str) -> bool:
    return not report.ok and why in (report.reason or "")


def _records(url: str) -> list[dict[str, object]]:
    store: IntentStore = open_store(url, create=False)
    try:
        return [dict(r) for r in store.intents()]
    finally:
        store.close()


def _rechain_all(url: str, records: list[dict[str, object]], first_prev: str = GENESIS) -> None:
    """Rewrite every record with fresh hashes from ``first_prev`` and move the head to match."""
    prev, statements = first_prev, []
    for record in records:
        fresh = chain({k: v for k, v in record.items()}, prev)
        doc = encode(fresh).replace("'", "''")
        statements.append(
            f"UPDATE intents SET hash = '{fresh['hash']}', doc = '{doc}'"  # noqa: S608
            f" WHERE uid = '{record['uid']}'"
        )
        prev = fresh["hash"]
    statements.append(f"UPDATE chain_head SET head_hash = '{prev}' WHERE id = 1")  # noqa: S608
    raw_sql(url, *statements)


def test_an_untouched_keyed_ledger_verifies_as_sealed(keyed: str) -> None:
    report = _verify(keyed)
    assert report.ok and report.sealed and report.records == 6


def test_re_chaining_every_record_is_caught_by_the_seal(keyed: str) -> None:
    records = _records(keyed)
    records[2]["patch"] = [{"op": "replace", "path": "/spec/replicas", "value": 0}]
    _rechain_all(keyed, records)
    assert _verify(keyed, key=None).ok  # the bare chain is consistent again: that is the attack
    report = _verify(keyed)
    assert _broken(report, "seal does not match")


def test_a_fake_retention_anchor_is_caught_by_the_seal(keyed: str) -> None:
    records = _records(keyed)
    last_dropped = records[1]
    raw_sql(
        keyed,
        "DELETE FROM intents WHERE uid IN ('u0', 'u1')",
        f"UPDATE chain_head SET anchor_hash = '{last_dropped['hash']}', anchor_uid = 'u1',"  # noqa: S608
        " pruned = 2 WHERE id = 1",
    )
    assert _verify(keyed, key=None).ok  # "chain OK … after 2 pruned by retention"
    report = _verify(keyed)
    assert _broken(report, "seal does not match")


def test_a_real_prune_stays_sealed(keyed: str) -> None:
    from datetime import UTC, datetime

    store = open_store(keyed, key=KEY)
    try:
        assert store.prune(datetime(2026, 11, 22, tzinfo=UTC)) == 2
    finally:
        store.close()
    report = _verify(keyed)
    assert report.ok and report.sealed and report.pruned == 2


def test_cutting_the_tail_and_rewinding_the_head_is_caught_by_the_published_head(
    keyed: str,
) -> None:
    published = _verify(keyed).head
    assert published is not None
    records = _records(keyed)
    raw_sql(
        keyed,
        "DELETE FROM intents WHERE uid IN ('u4', 'u5')",
        f"UPDATE chain_head SET head_hash = '{records[3]['hash']}', head_uid = 'u3',"  # noqa: S608
        " appended = 4 WHERE id = 1",
    )
    assert _verify(keyed, key=None).ok  # a consistent, shorter chain
    report = _verify(keyed, expect=ExpectedHead(published))
    assert _broken(report, "expected head")
    report = _verify(keyed, expect=ExpectedHead(published, 6))
    assert _broken(report, "6 records were published")


def test_verifying_with_another_key_fails(keyed: str) -> None:
    report = _verify(keyed, key=secrets.token_hex(32).encode())
    assert _broken(report, "seal does not match")


def test_a_ledger_written_without_a_key_is_reported_unsealed(
    store: IntentStore, ledger_url: str
) -> None:
    store.append(draft("plain"))
    report = _verify(ledger_url, key=None)
    assert report.ok and not report.sealed
    report = _verify(ledger_url)
    assert _broken(report, "not sealed")


def test_a_deleted_sqlite_ledger_recreated_empty_does_not_verify_and_is_not_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    store = open_store(str(path))
    store.append(draft("u0"))
    store.append(draft("u1"))
    store.close()
    head_file = Path(f"{path}.head")
    assert json.loads(head_file.read_text())["appended"] == 2
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(Exception, match="not the ledger published here"):
        open_store(str(path))  # the webhook refuses to start a fresh chain in its place
    out = truthgate("intents", "verify", ledger=str(path))
    assert out.returncode == 1, out
    assert "deleted or replaced" in out.stdout


def test_cli_verify_with_key_and_expected_head(keyed: str, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    ok = truthgate("intents", "verify", "--key-file", str(key_file), ledger=keyed)
    assert ok.returncode == 0, ok
    assert "sealed with the ledger key" in ok.stdout
    head = ok.stdout.split("head ")[1].split(";")[0]
    assert (
        truthgate("intents", "verify", "--expect-head", f"{head}@6", ledger=keyed).returncode == 0
    )
    wrong = truthgate("intents", "verify", "--expect-head", "0" * 63 + "1", ledger=keyed)
    assert wrong.returncode == 1 and "expected head" in wrong.stdout
    bad = truthgate("intents", "verify", "--expect-head", "nothex", ledger=keyed)
    assert bad.returncode == 2 and "64 lowercase hex" in bad.stderr
    short_key = tmp_path / "short"
    short_key.write_text("tooshort")
    refused = truthgate("intents", "verify", "--key-file", str(short_key), ledger=keyed)
    assert refused.returncode == 2 and "at least 32" in refused.stderr
