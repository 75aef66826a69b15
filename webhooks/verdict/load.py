"""Reading an Evidence document someone hands us (a file, stdin, an HTTP body).

Every section is optional, but what is there must have the right shape: a section of the
wrong type is a broken collector or a hand-edited file, and judging it anyway would produce a
verdict nobody can trust. The error names the field, so the user knows what to fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

from webhooks.common.api import API_VERSION
from webhooks.common.times import try_parse_time
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import Evidence

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
            _check_metric(where, item)
        elif section == "intents":
            _require(
                isinstance(item.get("kind", {}), dict),
                f"{where}.kind must be an object {{group, version, kind}}",
            )
            _require(isinstance(item.get("actor", {}), dict), f"{where}.actor must be an object")


MAX_DEPTH = 64  # Kubernetes objects nest a dozen levels; deeper is not a collector's output
MAX_INT_DIGITS = 30  # counts, sizes, timestamps; a 5,000-digit integer is not data


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequestError(f"malformed evidence: an integer of {len(text)} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequestError(f"malformed evidence: the number {short(text, 40)} is out of range")
    return value


def _constant(text: str) -> None:
    raise BadRequestError(f"malformed evidence: {text} is not a JSON number")


def _parse(raw: str | bytes) -> object:
    try:
        return json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError as e:
        raise BadRequestError("malformed evidence: nested too deeply") from e
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise BadRequestError(f"evidence is not valid JSON: {short(e, 200)}") from e


def _check_depth(doc: object) -> None:
    """Iteratively, so a hostile document cannot exhaust the stack here or in the checks."""
    stack: list[tuple[object, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        _require(depth <= MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_series(where: str, series: object) -> None:
    _require(isinstance(series, list), f"{where} must be an array of [time, value] pairs")
    assert isinstance(series, list)
    for j, point in enumerate(series):
        _require(
            isinstance(point, list) and len(point) == 2 and all(_is_number(v) for v in point),
            f"{where}[{j}] must be a [time, value] pair of finite numbers, got "
            f"{short(json.dumps(point, default=str), 60)}",
        )


def _check_metric(where: str, item: dict[str, Any]) -> None:
    _require(isinstance(item.get("name"), str), f"{where}.name must be a string")
    _check_series(f"{where}.series", item.get("series"))
    _require(
        item.get("direction") in ("increase-is-bad", "decrease-is-bad", "either"),
        f"{where}.direction must be increase-is-bad, decrease-is-bad or either",
    )
    _require(
        isinstance(item.get("changeAt"), str) and try_parse_time(item["changeAt"]) is not None,
        f"{where}.changeAt must be an RFC 3339 time",
    )
    history = item.get("history", [])
    _require(isinstance(history, list), f"{where}.history must be an array")
    for k, window in enumerate(history):
        _require(isinstance(window, dict), f"{where}.history[{k}] must be an object")
        _require(
            _is_number(window.get("offsetSeconds")),
            f"{where}.history[{k}].offsetSeconds must be a number",
        )
        _check_series(f"{where}.history[{k}].series", window.get("series"))
    tolerance = item.get("tolerance", {})
    _require(isinstance(tolerance, dict), f"{where}.tolerance must be an object")
    for name, value in tolerance.items():
        _require(_is_number(value), f"{where}.tolerance.{name} must be a number")
    if "driftBudgetSeconds" in item:
        _require(_is_number(item["driftBudgetSeconds"]), f"{where}.driftBudgetSeconds: a number")


def load_evidence(raw: str | bytes | Mapping[str, Any] | object) -> Evidence:
    """Parse and validate one Evidence document; BadRequestError says what is wrong."""
    doc: object = _parse(raw) if isinstance(raw, str | bytes) else raw
    _check_depth(doc)
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
            try_parse_time(doc["collectedAt"]) is not None,
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
