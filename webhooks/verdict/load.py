"""Reading an Evidence document someone hands us (a file, stdin, an HTTP body).

Every section is optional, but what is there must have the right shape: a section of the
wrong type is a broken collector or a hand-edited file, and judging it anyway would produce a
verdict nobody can trust. The error names the field, so the user knows what to fix.

The shape is the Evidence contract's JSON Schema (``webhooks/evidence/evidence.schema.json``);
this module keeps what a schema cannot say: strict JSON (no NaN, no 5,000-digit integers), a
bound on nesting, times that parse, numbers that are finite. A metric point's value may be a
string, as Prometheus' query API writes it ("0.011", "NaN", "+Inf"): it is read as the number
it spells, as the collector reads it; ``dumps_evidence`` writes the values JSON cannot hold
that way, so what ``verify`` saved is what ``replay`` judges. Errors come in the schema's order
(an object's ``properties`` before its ``required``: a field of the wrong type is named before
a missing one).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

from webhooks.common.schema import (
    ValidationError,
    field_path,
    first_error,
    generic_path,
    json_type,
    package_schema,
)
from webhooks.common.times import try_parse_time
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import Evidence

#: The Evidence contract's shape, shipped beside its TypedDicts (webhooks/evidence/model.py).
SCHEMA = package_schema("webhooks.evidence", "evidence.schema.json")

#: What a field must be, where the type alone would not help.
_WANTED = {
    "intents[].kind": "an object {group, version, kind}",
    "metrics[].series": "an array of [time, value] pairs",
    "metrics[].history[].series": "an array of [time, value] pairs",
}
#: Values judged as one: an error anywhere inside names the whole.
_UNITS = {
    "metrics[].series[]": "a [time, value] pair of finite numbers",
    "metrics[].history[].series[]": "a [time, value] pair of finite numbers",
}
_ARTICLE = {"object": "an object", "array": "an array", "null": "null"}


def _a(json_type_name: str) -> str:
    return _ARTICLE.get(json_type_name, f"a {json_type_name}")


def _type_name(value: object) -> str:
    return _a(json_type(value))


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise BadRequestError(f"malformed evidence: {message}")


def _either(choices: Sequence[object]) -> str:
    words = [str(c) for c in choices]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _at(doc: object, parts: Sequence[str | int]) -> object:
    for part in parts:
        doc = doc[part]  # type: ignore[index]
    return doc


def _message(doc: object, error: ValidationError) -> str:
    """One sentence naming the field, in the words this module has always used."""
    parts = list(error.absolute_path)
    for n in range(len(parts) + 1):
        if (what := _UNITS.get(generic_path(parts[:n]))) is not None:
            point = json.dumps(_at(doc, parts[:n]), default=str)
            return f"{field_path('', parts[:n])} must be {what}, got {short(point, 60)}"
    path = field_path("", parts) or "the document"
    kind = str(error.validator)
    limit: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if kind == "required":
        missing = next(f for f in limit if f not in instance)
        if generic_path(parts) == "objects[]":
            return f"{path} has no kind (live objects as the API returns them)"
        const = schema["properties"][missing].get("const")
        if const is not None:
            return f"{field_path('', [*parts, missing])} is missing, want {const!r}"
        return f"{field_path('', [*parts, missing])} is missing"
    if kind == "const":
        return f"{path} is {short(instance, 60)!r}, want {limit!r}"
    if kind == "minLength" and generic_path(parts) == "objects[].kind":
        return f"{field_path('', parts[:-1])} has no kind (live objects as the API returns them)"
    if kind == "type":
        wanted = _WANTED.get(generic_path(parts)) or _a(str(limit))
        return f"{path} must be {wanted}, got {_type_name(instance)}"
    if kind == "enum":
        return f"{path} must be {_either(limit)}"
    return f"{path} does not fit the Evidence schema ({kind})"  # never echo the value


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


def _finite(doc: Mapping[str, Any]) -> None:
    """Numbers the judge computes with are finite (JSON text cannot say NaN; a mapping can)."""
    for i, metric in enumerate(doc.get("metrics") or []):
        where = f"metrics[{i}]"
        numbers = [(f"{where}.driftBudgetSeconds", metric.get("driftBudgetSeconds", 0))]
        numbers += [(f"{where}.tolerance.{k}", v) for k, v in metric.get("tolerance", {}).items()]
        windows = [(f"{where}.series", metric["series"])]
        for k, window in enumerate(metric.get("history", [])):
            numbers.append((f"{where}.history[{k}].offsetSeconds", window["offsetSeconds"]))
            windows.append((f"{where}.history[{k}].series", window["series"]))
        for name, value in numbers:
            _require(math.isfinite(value), f"{name} must be a finite number")
        for name, series in windows:
            for j, point in enumerate(series):
                # A value may be NaN or an infinity (Prometheus answers 0/0 so); a time may not.
                _require(
                    math.isfinite(point[0]),
                    f"{name}[{j}] must be a [time, value] pair of finite numbers",
                )


def _points(name: str, series: list[list[Any]]) -> list[list[Any]]:
    """A series with Prometheus' string values read as the numbers they spell ("0.011",
    "NaN", "+Inf"), as the collector reads them."""
    out: list[list[Any]] = []
    for j, (stamp, raw) in enumerate(series):
        try:
            value = float(raw) if isinstance(raw, str) else raw
        except ValueError:
            point = json.dumps([stamp, raw])
            raise BadRequestError(
                f"malformed evidence: {name}[{j}] must be a [time, value] pair of finite "
                f"numbers, got {short(point, 60)}"
            ) from None
        out.append([stamp, value])
    return out


def _numeric_series(doc: dict[str, Any]) -> None:
    """Replace each metric (a copy: the caller's document is left as it was) by one whose
    series hold numbers only."""
    metrics = []
    for i, metric in enumerate(doc.get("metrics") or []):
        copy = {**metric, "series": _points(f"metrics[{i}].series", metric["series"])}
        if "history" in metric:
            copy["history"] = [
                {**w, "series": _points(f"metrics[{i}].history[{k}].series", w["series"])}
                for k, w in enumerate(metric["history"])
            ]
        metrics.append(copy)
    if metrics:
        doc["metrics"] = metrics


def _portable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return value


def dumps_evidence(evidence: Evidence, **options: Any) -> str:
    """Evidence as strict JSON (``json.dumps`` ``options``): a metric value JSON cannot hold
    (NaN, an infinity) is written as Prometheus writes it, a string ``load_evidence`` reads back."""
    doc: dict[str, Any] = dict(evidence)
    if doc.get("metrics"):
        doc["metrics"] = [
            {
                **m,
                "series": [[t, _portable(v)] for t, v in m.get("series") or []],
                **(
                    {
                        "history": [
                            {**w, "series": [[t, _portable(v)] for t, v in w.get("series") or []]}
                            for w in m["history"]
                        ]
                    }
                    if m.get("history")
                    else {}
                ),
            }
            for m in doc["metrics"]
        ]
    return json.dumps(doc, allow_nan=False, **options)


def load_evidence(raw: str | bytes | Mapping[str, Any] | object) -> Evidence:
    """Parse and validate one Evidence document; BadRequestError says what is wrong."""
    doc: object = _parse(raw) if isinstance(raw, str | bytes) else raw
    _check_depth(doc)
    _require(isinstance(doc, dict), f"the document must be a JSON object, got {_type_name(doc)}")
    assert isinstance(doc, dict)
    # A null section means "not collected", exactly like an absent one.
    doc = {k: v for k, v in doc.items() if v is not None}
    error = first_error(doc, SCHEMA)
    if error is not None:
        raise BadRequestError(f"malformed evidence: {_message(doc, error)}")
    if "collectedAt" in doc:
        _require(
            try_parse_time(doc["collectedAt"]) is not None,
            f"collectedAt {short(doc['collectedAt'], 60)!r} is not an RFC 3339 time",
        )
    for i, metric in enumerate(doc.get("metrics") or []):
        _require(
            try_parse_time(metric["changeAt"]) is not None,
            f"metrics[{i}].changeAt must be an RFC 3339 time",
        )
    _numeric_series(doc)
    _finite(doc)
    return cast(Evidence, doc)
