"""What the read API answers, over any ``IntentStore``: pages of an application's records.

No web framework here: the Flask blueprint (:mod:`webhooks.server.readapi`) checks the proxy's
credential and turns the errors into statuses; this module parses what the caller asked for,
scopes every answer to the one application the Argo CD proxy vouched for, and shapes pages.

Pages are newest first. A page is ``{"items": [...], "next": KEY | null}``; the next page is
asked for with ``before=KEY`` (keyset paging: no offsets, so records arriving between two
requests neither repeat nor vanish). Intents carry their patch unless it is larger than
``MAX_PATCH_BYTES`` (then ``patchOmitted`` says how large it was); verification records are
listed without their evidence digest, which is fetched one at a time.

Verifications can be asked for one TruthCheck of the application (``truthCheck=<ns>/<name>``):
an application with several has one record per TruthCheck and verification, and the newest
of one must not be crowded out by the others'. Such a page reads at most ``MAX_SCAN`` records;
it may then hold fewer than ``limit`` items while ``next`` still points further back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhooks.common.argocd import CONTROL_PLANE_NAMESPACE, AppRef
from webhooks.errors import BadRequestError, ForbiddenError, NotFoundError, short
from webhooks.ledger.store import IntentStore, RecentTable

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PATCH_BYTES = 16 * 1024
MAX_KEY = 2**63 - 1
MAX_SCAN = 1000  # records read at most for one page of one TruthCheck's verifications
# A Kubernetes object name (RFC 1123 subdomain, at most 253 characters).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class AppName:
    """An Argo CD application as the proxy names it: ``<namespace>:<name>``."""

    namespace: str
    name: str


def parse_app_header(value: str | None) -> AppName:
    """The ``Argocd-Application-Name`` header, which Argo CD's proxy has authorised."""
    if not value:
        raise BadRequestError("the Argocd-Application-Name header is missing")
    namespace, sep, name = value.partition(":")
    if not sep or not _NAME.match(namespace) or not _NAME.match(name):
        raise BadRequestError(
            f"Argocd-Application-Name must be <namespace>:<name>, got {short(value, 80)!r}"
        )
    return AppName(namespace, name)


@dataclass(frozen=True)
class TruthCheckName:
    """One TruthCheck, as the ledger's verification records name it."""

    namespace: str
    name: str


def parse_truthcheck(args: Mapping[str, str]) -> TruthCheckName | None:
    """``truthCheck=<namespace>/<name>`` from the query string, or None when not asked."""
    raw = args.get("truthCheck")
    if raw is None or raw == "":
        return None
    namespace, sep, name = raw.partition("/")
    if not sep or not _NAME.match(namespace) or not _NAME.match(name):
        raise BadRequestError(f"truthCheck must be <namespace>/<name>, got {short(raw, 80)!r}")
    return TruthCheckName(namespace, name)


def check_scope(app: AppName, requested: str) -> None:
    """Only the application the proxy authorised may be read."""
    if requested != app.name:
        raise ForbiddenError(
            f"this request is authorised for application {app.name!r}, not {short(requested, 80)!r}"
        )


def parse_paging(args: Mapping[str, str]) -> tuple[int | None, int]:
    """``before`` (a key from a previous page) and ``limit`` from the query string."""
    limit = _integer(args, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    before = _integer(args, "before", None)
    if before is not None and not 1 <= before <= MAX_KEY:
        raise BadRequestError(f"before must be a positive key from a previous page, got {before}")
    return before, limit


def intents_page(
    store: IntentStore,
    app: AppName,
    before: int | None,
    limit: int,
    control_plane: Collection[str] = frozenset({CONTROL_PLANE_NAMESPACE}),
) -> dict[str, Any]:
    """The app's intents, recorded under Argo CD's key for it: ``<ns>_<app>`` outside the
    control-plane namespace(s), ``<app>`` inside (never the other's: that is another app)."""
    items = []
    keys = AppRef(app.name, app.namespace).ledger_keys(control_plane)
    rows, more = _rows(store, "intents", keys, before, limit)
    for key, record in rows:
        item = {"id": key, **record}
        size = len(json.dumps(record.get("patch") or [], separators=(",", ":")))
        if size > MAX_PATCH_BYTES:
            item["patch"] = None
            item["patchOmitted"] = {"bytes": size, "operations": len(record.get("patch") or [])}
        items.append(item)
    return _page(items, more)


def verifications_page(
    store: IntentStore,
    app: AppName,
    before: int | None,
    limit: int,
    truthcheck: TruthCheckName | None = None,
) -> dict[str, Any]:
    """The app's verification records, newest first; only ``truthcheck``'s when given."""
    items: list[dict[str, Any]] = []
    cursor, scanned, more = before, 0, True
    # One read for the whole app (as before); batches, bounded, for one of its TruthChecks.
    batch = limit if truthcheck is None else MAX_LIMIT
    while more and len(items) < limit and scanned < (1 if truthcheck is None else MAX_SCAN):
        rows, more = _rows(store, "verifications", (app.name,), cursor, batch)
        for i, (key, record) in enumerate(rows):
            cursor = key
            if _same_namespace(app, record) and _of_truthcheck(record, truthcheck):
                item = {k: v for k, v in record.items() if k != "evidence"}
                item["id"] = key
                item["hasEvidence"] = isinstance(record.get("evidence"), dict)
                items.append(item)
                if len(items) == limit:
                    more = more or i < len(rows) - 1
                    break
        scanned += len(rows)
    return _page(items, more, last=cursor)


def verification_evidence(store: IntentStore, app: AppName, key: int) -> dict[str, Any]:
    """The evidence digest stored with verification ``key`` of ``app``."""
    if not 1 <= key <= MAX_KEY:
        raise NotFoundError(f"no verification {key}")
    record = store.verification(key)
    if record is None:
        raise NotFoundError(f"no verification {key} (never recorded, or pruned by retention)")
    if record.get("app") != app.name or not _same_namespace(app, record):
        raise ForbiddenError(f"verification {key} belongs to another application")
    evidence = record.get("evidence")
    if not isinstance(evidence, dict):
        raise NotFoundError(f"verification {key} was recorded without evidence")
    return {
        "id": key,
        "app": record.get("app"),
        "revision": record.get("revision"),
        "verdict": record.get("verdict"),
        "time": record.get("time"),
        "evidence": evidence,
    }


def _rows(
    store: IntentStore, table: RecentTable, keys: Sequence[str], before: int | None, limit: int
) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
    """Newest first across ``keys``: each key's newest ``limit + 1`` suffice for one page."""
    rows = sorted(
        (row for k in keys for row in store.recent(table, app=k, before=before, limit=limit + 1)),
        key=lambda row: row[0],
        reverse=True,
    )[: limit + 1]
    return rows[:limit], len(rows) > limit


def _page(items: list[dict[str, Any]], more: bool, last: int | None = None) -> dict[str, Any]:
    if last is None and items:
        last = int(items[-1]["id"])
    return {"items": items, "next": last if more else None}


def _same_namespace(app: AppName, record: Mapping[str, Any]) -> bool:
    namespace = record.get("appNamespace")
    return namespace is None or namespace == app.namespace


def _of_truthcheck(record: Mapping[str, Any], truthcheck: TruthCheckName | None) -> bool:
    if truthcheck is None:
        return True
    ref = record.get("truthCheck")
    return isinstance(ref, dict) and (ref.get("namespace"), ref.get("name")) == (
        truthcheck.namespace,
        truthcheck.name,
    )


def _integer(args: Mapping[str, str], name: str, default: int | None) -> Any:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise BadRequestError(f"{name} must be a whole number, got {short(raw, 40)!r}")
    return int(raw)
