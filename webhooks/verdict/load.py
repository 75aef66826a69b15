"""Reading an Evidence document someone hands us (a file, stdin, an HTTP body).

Every section is optional, but what is there must have the right shape: a section of the
wrong type is a broken collector or a hand-edited file, and judging it anyway would produce a
verdict nobody can trust. The error names the field, so the user knows what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from webhooks.checks.kube import parse_time
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import Evidence

API_VERSION = "truthgate.dev/v1alpha1"

_OBJECT_SECTIONS = ("application", "truthCheck")
_LIST_SECTIONS = ("intents", "objects", "probes", "metrics")


def _type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise BadRequestError(f"malformed evidence: {message}")


def _check_items(section: str, items: list[Any]) -> None:
    for i, item in enumerate(items):
        where = f"{section}[{i}]"
        _require(isinstance(item, dict), f"{where} must be an object, got {_type_name(item)}")
        if section == "objects":
            _require(
                isinstance(item.get("kind"), str) and bool(item.get("kind")),
                f"{where} has no kind (live objects as the API returns them)",
            )
            _require(
                isinstance(item.get("metadata", {}), dict), f"{where}.metadata must be an object"
            )
        elif section == "probes":
            _require(isinstance(item.get("name"), str), f"{where}.name must be a string")
            _require(isinstance(item.get("ok"), bool), f"{where}.ok must be a boolean")
        elif section == "metrics":
            _require(isinstance(item.get("name"), str), f"{where}.name must be a string")
            _require(isinstance(item.get("series", []), list), f"{where}.series must be an array")
        elif section == "intents":
            _require(
                isinstance(item.get("kind", {}), dict),
                f"{where}.kind must be an object {{group, version, kind}}",
            )
            _require(isinstance(item.get("actor", {}), dict), f"{where}.actor must be an object")


def load_evidence(raw: str | bytes | Mapping[str, Any] | object) -> Evidence:
    """Parse and validate one Evidence document; BadRequestError says what is wrong."""
    doc: object = raw
    if isinstance(raw, str | bytes):
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadRequestError(f"evidence is not valid JSON: {short(e, 200)}") from e
    _require(isinstance(doc, dict), f"the document must be a JSON object, got {_type_name(doc)}")
    assert isinstance(doc, dict)
    # A null section means "not collected", exactly like an absent one.
    doc = {k: v for k, v in doc.items() if v is not None}
    for field, want in (("apiVersion", API_VERSION), ("kind", "Evidence")):
        got = doc.get(field)
        shown = "missing" if got is None else repr(short(got, 60))
        _require(got == want, f"{field} is {shown}, want {want!r}")
    if "collectedAt" in doc:
        _require(
            parse_time(doc["collectedAt"]) is not None,
            f"collectedAt {short(doc['collectedAt'], 60)!r} is not an RFC 3339 time",
        )
    for section in _OBJECT_SECTIONS:
        if doc.get(section) is not None:
            _require(
                isinstance(doc[section], dict),
                f"{section} must be an object, got {_type_name(doc[section])}",
            )
    for section in _LIST_SECTIONS:
        if doc.get(section) is not None:
            _require(
                isinstance(doc[section], list),
                f"{section} must be an array, got {_type_name(doc[section])}",
            )
            _check_items(section, doc[section])
    return cast(Evidence, doc)
