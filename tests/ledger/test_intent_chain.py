"""The hash chain itself, on plain data: what is hashed, and how breaks are named."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.ledger.ledger_support import draft
from webhooks.errors import BadRequestError
from webhooks.ledger.intent import (
    GENESIS,
    PATCH_MAX_BYTES,
    Anchor,
    Head,
    StoredRecord,
    canonical,
    chain,
    chain_encoded,
    encode,
    index_columns,
    verify_chain,
)


def _chain(n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev: str = GENESIS
    for i in range(n):
        chained = chain(draft(f"u{i}", image=f"web:{i}"), prev)
        records.append(dict(chained))
        prev = chained["hash"]
    return records


def _rows(records: list[dict[str, Any]]) -> list[StoredRecord]:
    return [StoredRecord(encode(r), index_columns(r)) for r in records]


def test_hash_is_sha256_of_prev_hash_then_sorted_compact_utf8_json() -> None:
    record = chain({"uid": "u", "time": "2026-11-27T10:00:00Z", "app": "café", "b": 1}, GENESIS)
    expected_body = (
        '{"app":"café","b":1,"prevHash":"' + GENESIS + '","time":"2026-11-27T10:00:00Z","uid":"u"}'
    ).encode()
    assert canonical(record) == expected_body
    assert record["hash"] == hashlib.sha256(GENESIS.encode() + expected_body).hexdigest()


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"a": 1, "zz": [1.5, None], "hasg": "ü", "hasi": {"k": "\u2028"}, "": 0},
        {"patch": [{"op": "add", "path": "/data/k", "value": "v" * (PATCH_MAX_BYTES + 1)}]},
    ],
    ids=["few-keys", "keys-around-hash", "capped-patch"],
)
def test_the_stored_text_is_the_canonical_record_with_its_hash(extra: dict[str, Any]) -> None:
    record, doc = chain_encoded({"uid": "u", "time": "2026-11-27T10:00:00Z"} | extra, GENESIS)
    assert doc == encode(record)
    assert record["hash"] == hashlib.sha256(GENESIS.encode() + canonical(record)).hexdigest()
    assert verify_chain([StoredRecord(doc, index_columns(record))]).ok


def test_chain_ignores_hash_fields_a_draft_brings() -> None:
    d = draft("u") | {"prevHash": "f" * 64, "hash": "e" * 64}
    record = chain(d, GENESIS)
    assert record["prevHash"] == GENESIS
    assert record["hash"] == chain(draft("u"), GENESIS)["hash"]


def test_same_content_in_another_position_hashes_differently() -> None:
    assert chain(draft("u"), GENESIS)["hash"] != chain(draft("u"), "1" * 64)["hash"]


def test_non_json_drafts_are_refused() -> None:
    with pytest.raises(BadRequestError, match="plain JSON"):
        chain(draft("u") | {"extra": float("nan")}, GENESIS)
    with pytest.raises(BadRequestError, match="plain JSON"):
        chain(draft("u") | {"extra": object()}, GENESIS)


def test_intact_chain_verifies_and_reports_its_head() -> None:
    records = _chain(4)
    report = verify_chain(_rows(records), Anchor(), Head(records[-1]["hash"], "u3", 4))
    assert (report.ok, report.records, report.head) == (True, 4, records[-1]["hash"])


def test_edited_record_is_named() -> None:
    records = _chain(4)
    records[1]["patch"][0]["value"] = "web:evil"
    report = verify_chain(_rows(records))
    assert (report.ok, report.first_bad, report.records) == (False, "u1", 1)
    assert report.reason is not None and report.reason.startswith("edited")


def test_removed_record_is_named_at_its_successor() -> None:
    records = _chain(4)
    del records[2]
    report = verify_chain(_rows(records))
    assert (report.ok, report.first_bad) == (False, "u3")
    assert report.reason is not None and report.reason.startswith("removed")


def test_reordered_records_are_named() -> None:
    records = _chain(5)
    records[1], records[3] = records[3], records[1]
    report = verify_chain(_rows(records))
    assert (report.ok, report.first_bad) == (False, "u3")
    assert report.reason is not None and report.reason.startswith("reordered")


def test_chain_resumes_from_a_retention_anchor() -> None:
    records = _chain(6)
    kept = records[3:]
    anchor = Anchor(records[2]["hash"], 3)
    assert verify_chain(_rows(kept), anchor).ok
    assert not verify_chain(_rows(kept)).ok  # not from genesis


def test_missing_newest_records_are_caught_by_the_head() -> None:
    records = _chain(4)
    report = verify_chain(_rows(records[:2]), Anchor(), Head(records[3]["hash"], "u3", 4))
    assert (report.ok, report.first_bad) == (False, "u3")
    assert report.reason is not None and "2 record(s)" in report.reason


def test_unparseable_stored_text_is_reported_as_edited() -> None:
    records = _chain(2)
    rows = _rows(records)
    rows[1] = StoredRecord(rows[1].doc[:-5], rows[1].columns)
    report = verify_chain(rows)
    assert report.first_bad == "u1"
    assert report.reason == "edited: its stored content is not valid JSON"


def test_plain_records_verify_as_a_stretch_of_the_chain() -> None:
    records = _chain(6)
    stretch = records[2:5]  # e.g. the intents of one sync, as Evidence carries them
    assert verify_chain(stretch, Anchor(stretch[0]["prevHash"])).ok
    gap = [records[2], records[4]]
    report = verify_chain(gap, Anchor(gap[0]["prevHash"]))
    assert (report.ok, report.first_bad) == (False, "u4")
    tampered = [dict(r) for r in stretch]
    tampered[1]["operation"] = "DELETE"
    assert verify_chain(tampered, Anchor(tampered[0]["prevHash"])).first_bad == "u3"


def test_a_huge_patch_is_stored_as_a_bounded_prefix_with_its_hash_and_size() -> None:
    # A denied edit of a ConfigMap with 60k keys: 60k ops, megabytes of JSON.
    ops = [{"op": "add", "path": f"/data/key-{i}", "value": "v" * 50} for i in range(60_000)]
    big = draft("huge")
    big["patch"] = ops
    whole = canonical({"x": ops})[len('{"x":') : -1]
    record = chain(big, GENESIS)
    assert len(encode(record)) < PATCH_MAX_BYTES  # bounded, whatever came in
    capped = record["patchCapped"]
    assert capped == {
        "sha256": hashlib.sha256(whole).hexdigest(),
        "bytes": len(whole),
        "ops": 60_000,
    }
    kept = record["patch"]
    assert kept[0] == ops[0] and 0 < len(kept) < 60_000  # the first ops, whole
    assert verify_chain(_rows([dict(record)])).ok


def test_one_enormous_op_keeps_its_path_and_a_small_patch_is_untouched() -> None:
    big = draft("one-op")
    big["patch"] = [{"op": "replace", "path": "/data", "value": {"k": "x" * 200_000}}]
    record = chain(big, GENESIS)
    assert record["patch"] == [{"op": "replace", "path": "/data", "truncated": True}]
    small = chain(draft("small"), GENESIS)
    assert "patchCapped" not in small and small["patch"] == draft("small")["patch"]
