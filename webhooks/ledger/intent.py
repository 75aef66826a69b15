"""The intent record's hash chain: canonical JSON, chaining and verification.

Pure (no I/O) so both backends, the CLI and tests share one definition of what a valid chain is.

A record's ``hash`` is ``sha256(prevHash + canonical)`` where ``canonical`` is the record without
its ``hash`` key as JSON with sorted keys, compact separators and UTF-8 (not ``\\u`` escapes).
``prevHash`` is itself part of the canonical body, so a record cannot be moved to another place
in the chain without its hash changing. The first record chains to ``GENESIS`` (64 zeros); after
retention pruned the oldest records it chains to the stored :class:`Anchor`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NewType, TypedDict, cast

from webhooks.common.times import parse_time
from webhooks.errors import BadRequestError
from webhooks.evidence.model import IntentRecord
from webhooks.ledger.store import ChainReport

ChainHash = NewType("ChainHash", str)  # 64 lowercase hex digits

GENESIS = ChainHash("0" * 64)

# Only the fields the ledger itself needs are required of a draft; the rest of the shape is the
# webhook's business, and refusing an oddly shaped draft would lose the record of a review.
_REQUIRED = ("uid", "time")
_CHAIN_KEYS = ("prevHash", "hash")
# A patch larger than this is not stored whole (a denied edit of a huge ConfigMap would
# otherwise fill the volume a few hundred attempts at a time): the record keeps the first ops
# that fit PATCH_PREFIX_BYTES, and in ``patchCapped`` the full patch's sha256, size and length.
PATCH_MAX_BYTES = 64 * 1024
PATCH_PREFIX_BYTES = 16 * 1024
_PATH_CLIP = 1024


class IndexColumns(TypedDict):
    """What the stores copy out of a record into indexed columns (for filters)."""

    uid: str
    app: str | None
    namespace: str | None
    ts: int  # microseconds since the epoch, UTC


@dataclass(frozen=True)
class Anchor:
    """Where the retained chain starts: genesis, or the last record retention pruned."""

    prev_hash: ChainHash = GENESIS
    pruned: int = 0  # how many records were pruned before it


@dataclass(frozen=True)
class Head:
    """The chain head as the store last wrote it (updated in the same transaction as a record)."""

    hash: ChainHash
    uid: str | None
    appended: int  # records ever appended, pruned ones included


@dataclass(frozen=True)
class ExpectedHead:
    """A head noted outside the database: this hash must be in the chain (at that position)."""

    hash: str
    appended: int | None = None  # its position: records appended up to and including it


@dataclass(frozen=True)
class StoredRecord:
    """One row as read back: the JSON text exactly as stored plus its indexed columns."""

    doc: str
    columns: IndexColumns


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: the record without ``hash``, sorted keys, compact, UTF-8."""
    return _json({k: v for k, v in record.items() if k != "hash"})


def record_hash(record: Mapping[str, Any]) -> ChainHash:
    prev = record.get("prevHash")
    if not isinstance(prev, str):
        raise BadRequestError("record has no prevHash")
    return ChainHash(hashlib.sha256(prev.encode("utf-8") + canonical(record)).hexdigest())


def to_micros(moment: datetime) -> int:
    """Aware datetime → integer microseconds since the epoch (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def index_columns(record: Mapping[str, Any]) -> IndexColumns:
    uid = record.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadRequestError("record uid must be a non-empty string")
    app, namespace = record.get("app"), record.get("namespace")
    for field, value in (("app", app), ("namespace", namespace)):
        if value is not None and not isinstance(value, str):
            raise BadRequestError(f"record {field} must be a string or null")
    return IndexColumns(
        uid=uid, app=app, namespace=namespace, ts=to_micros(parse_time(record.get("time")))
    )


def chain(draft: Mapping[str, Any], prev_hash: str) -> IntentRecord:
    """Link ``draft`` after ``prev_hash``: a new record with ``prevHash`` and ``hash`` set.

    Any ``prevHash``/``hash`` in the draft is ignored: only the store decides the position.
    """
    return chain_encoded(draft, prev_hash)[0]


def chain_encoded(draft: Mapping[str, Any], prev_hash: str) -> tuple[IntentRecord, str]:
    """``chain`` and the record's stored text (``encode``), from one serialisation.

    The keys sorting before ``hash`` and those after it are serialised apart: joined they are
    the canonical body that is hashed, and with the hash between them the stored text, each
    exactly what ``canonical`` and ``encode`` give.
    """
    missing = [k for k in _REQUIRED if k not in draft]
    if missing:
        raise BadRequestError(f"intent draft lacks {', '.join(missing)}")
    record: dict[str, Any] = {k: v for k, v in draft.items() if k not in _CHAIN_KEYS}
    index_columns(record)  # validates uid, time, app, namespace
    record["prevHash"] = prev_hash
    try:
        before, after = _halves(record)
        body = _joined(before, after).encode("utf-8")
        # The patch is part of the body: a body within the cap holds a patch within it too.
        if "patch" in record and len(body) > PATCH_MAX_BYTES:
            record.update(cap_patch(record["patch"]))
            before, after = _halves(record)
            body = _joined(before, after).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise BadRequestError(f"intent draft is not plain JSON: {e}") from e
    digest = hashlib.sha256(prev_hash.encode("utf-8") + body).hexdigest()
    record["hash"] = digest
    return cast(IntentRecord, record), _joined(before, after, f'"hash":"{digest}"')


def _text(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _halves(record: Mapping[str, Any]) -> tuple[str, str]:
    """The canonical text of the keys sorting before ``hash``, and of those after it."""
    return (
        _text({k: v for k, v in record.items() if k < "hash"}),
        _text({k: v for k, v in record.items() if k > "hash"}),
    )


def _joined(before: str, after: str, middle: str = "") -> str:
    """One JSON object of two canonical ones (and a member between them)."""
    return "{" + ",".join(p for p in (before[1:-1], middle, after[1:-1]) if p) + "}"


def _json(value: Any) -> bytes:
    return _text(value).encode("utf-8")


def cap_patch(patch: Any) -> dict[str, Any]:
    """``{"patch": patch}`` if it is small enough, else a bounded prefix plus ``patchCapped``.

    The prefix keeps whole ops while they fit; past that, ops are kept as ``op`` and ``path``
    only (``"truncated": true``) while those fit, so the changed paths stay visible.
    """
    whole = _json(patch)
    if len(whole) <= PATCH_MAX_BYTES:
        return {"patch": patch}
    ops = patch if isinstance(patch, list) else [patch]
    kept: list[Any] = []
    used = 2
    for op in ops:
        entry = op
        size = len(_json(op)) + 1
        if used + size > PATCH_PREFIX_BYTES:
            if not isinstance(op, dict):
                break
            entry = {
                "op": str(op.get("op", ""))[:16],
                "path": str(op.get("path", ""))[:_PATH_CLIP],
                "truncated": True,
            }
            size = len(_json(entry)) + 1
            if used + size > PATCH_PREFIX_BYTES:
                break
        kept.append(entry)
        used += size
    return {
        "patch": kept,
        "patchCapped": {
            "sha256": hashlib.sha256(whole).hexdigest(),
            "bytes": len(whole),
            "ops": len(ops),
        },
    }


def encode(record: Mapping[str, Any]) -> str:
    """The text a store keeps: the canonical form with ``hash`` included."""
    return _text(record)


def decode(doc: str) -> IntentRecord:
    return cast(IntentRecord, json.loads(doc))


def verify_chain(
    rows: Iterable[StoredRecord | Mapping[str, Any]],
    anchor: Anchor = Anchor(),
    head: Head | None = None,
    expect: ExpectedHead | None = None,
) -> ChainReport:
    """Walk ``rows`` (in append order) from ``anchor``; name the first record that breaks.

    ``rows`` are stored rows, or plain records (e.g. the intents of an Evidence document: pass
    ``Anchor(first["prevHash"])`` to check that they form one unbroken stretch of the chain).

    * edited — its content no longer hashes to its ``hash`` (or its indexed columns disagree
      with its content, which would hide it from filtered queries);
    * reordered — it is chained after a record that now comes later;
    * removed — it is chained after a record that is no longer there (or was rewritten
      together with its hash), or records after the last one are missing per the head.

    With ``expect``, the chain must also hold that hash (at that position): a head published
    earlier, which a rewritten, rewound or replaced chain does not.
    """
    expected = anchor.prev_hash
    count = 0
    last_uid: str | None = None
    found = expect is not None and _is_expected(expect, anchor.prev_hash, anchor.pruned)
    it: Iterator[StoredRecord] = map(_as_stored, rows)
    for row in it:
        uid = row.columns["uid"]
        broken = _check_content(row)
        if broken:
            return ChainReport(False, count, uid, broken, pruned=anchor.pruned)
        record = json.loads(row.doc)
        if record["prevHash"] != expected:
            later = _find_later(it, record["prevHash"])
            reason = (
                f"reordered: it was chained after {later}, which now comes after it"
                if later is not None
                else "removed: the record it was chained after is missing (or was rewritten)"
            )
            return ChainReport(False, count, uid, reason, pruned=anchor.pruned)
        expected = ChainHash(record["hash"])
        count += 1
        last_uid = uid
        if expect is not None and not found:
            found = _is_expected(expect, expected, anchor.pruned + count)
    if head is not None and head.hash != expected:
        kept = anchor.pruned + count
        if head.appended > kept:
            reason = (
                f"removed: {head.appended - kept} record(s) after {last_uid or 'the anchor'} "
                "are missing"
            )
        else:
            reason = "the chain head does not match the last record"
        return ChainReport(False, count, head.uid, reason, pruned=anchor.pruned)
    if expect is not None and not found:
        at = "" if expect.appended is None else f" (record {expect.appended})"
        kept = anchor.pruned + count
        if expect.appended is not None and expect.appended > kept:
            reason = (
                f"removed: {expect.appended} records were published (head {expect.hash[:16]}…)"
                f" but the chain holds {kept}"
            )
        else:
            reason = (
                f"the expected head {expect.hash[:16]}…{at} is not in the chain: it was "
                "rewritten, cut short, or replaced (or pruned by retention)"
            )
        return ChainReport(False, count, None, reason, pruned=anchor.pruned)
    return ChainReport(True, count, head=expected, pruned=anchor.pruned)


def _is_expected(expect: ExpectedHead, hash_: str, position: int) -> bool:
    if expect.appended is not None and expect.appended < position:
        return True  # pruned by retention since it was published: nothing left to compare
    return hash_ == expect.hash and expect.appended in (None, position)


def _as_stored(item: StoredRecord | Mapping[str, Any]) -> StoredRecord:
    if isinstance(item, StoredRecord):
        return item
    uid = item.get("uid")
    try:
        columns = index_columns(item)
        doc = encode(item)
    except (BadRequestError, TypeError, ValueError):
        # Unindexable: keep what can be shown; the content check reports it as edited.
        columns = IndexColumns(uid=str(uid), app=None, namespace=None, ts=0)
        doc = json.dumps(item, default=str)
    return StoredRecord(doc, columns)


def _check_content(row: StoredRecord) -> str | None:
    try:
        record = json.loads(row.doc)
    except ValueError:
        return "edited: its stored content is not valid JSON"
    if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
        return "edited: its stored content is not an intent record"
    try:
        if record_hash(record) != record["hash"]:
            return "edited: its content no longer matches its hash"
        columns = index_columns(record)
    except (BadRequestError, TypeError, ValueError):
        return "edited: its stored content is not an intent record"
    if columns != row.columns:
        return "edited: its indexed columns (uid, app, namespace, time) differ from its content"
    return None


def _find_later(rows: Iterator[StoredRecord], wanted: str) -> str | None:
    """The uid of a later row whose hash is ``wanted`` (tells reordered from removed)."""
    for row in rows:
        try:
            if json.loads(row.doc).get("hash") == wanted:
                return row.columns["uid"]
        except (ValueError, AttributeError):
            continue
    return None
