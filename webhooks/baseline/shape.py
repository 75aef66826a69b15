"""Check a spec section's shape against its CRD schema, with messages that name the field.

The schema (webhooks.crds) is the only description of the shape: types, required fields, enums,
patterns, lengths and counts come from it, and so does the list of known fields (the CRD has no
``additionalProperties: false``, so unknown fields are found by walking its ``properties``).
This module only turns a jsonschema error into a sentence a user can act on; what a schema
cannot say (durations that parse, cross-field rules, refused headers) stays with the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from webhooks.errors import BadRequestError

#: How a list or map is named in count messages ("at most 8 offsets").
_NOUNS = {"metrics": "metric", "history": "offset", "headers": "header"}
#: What a list or map must be, when "must be a list" alone would not help.
_CONTAINERS = {
    "metrics": "a list of metrics",
    "history": "a list of durations, like [24h, 168h]",
    "headers": "an object of header names to values",
}

#: Explains a value that does not match a schema ``pattern``: raises BadRequestError itself, or
#: returns the text after ``path: `` (None: the generic wording).
PatternExplainer = Callable[[str, str, str, object], str | None]


def field_path(root: str, parts: Sequence[str | int]) -> str:
    """``spec.baseline`` + ``["metrics", 1, "name"]`` -> ``spec.baseline.metrics[1].name``."""
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_shape(
    value: object, schema: Mapping[str, Any], root: str, explain_pattern: PatternExplainer
) -> None:
    """Raise BadRequestError for the first way ``value`` does not fit ``schema``."""
    for parts, field, known in _unknown_fields(value, schema, []):
        raise BadRequestError(
            f"{field_path(root, [*parts, field[:64]])}: unknown field; expected one of "
            f"{', '.join(sorted(known))}"
        )
    validator = jsonschema.Draft4Validator(schema)  # OpenAPI v3.0 schemas are draft 4's
    for error in validator.iter_errors(value):  # in the schema's order of fields
        raise BadRequestError(_message(error, root, explain_pattern))


def _unknown_fields(
    value: object, schema: Mapping[str, Any], parts: list[str | int]
) -> Iterator[tuple[list[str | int], str, list[str]]]:
    properties = schema.get("properties")
    if isinstance(value, Mapping):
        if properties is not None and "additionalProperties" not in schema:
            for key in sorted(str(k) for k in value if k not in properties):
                yield parts, key, list(properties)
        for key, item in value.items():
            sub = (properties or {}).get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), Mapping):
                sub = schema["additionalProperties"]
            if sub is not None:
                yield from _unknown_fields(item, sub, [*parts, key])
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            yield from _unknown_fields(item, schema["items"], [*parts, i])


def _message(error: ValidationError, root: str, explain_pattern: PatternExplainer) -> str:
    parts = list(error.absolute_path)
    path = field_path(root, parts)
    field = str(parts[-1]) if parts and isinstance(parts[-1], str) else ""
    kind = str(error.validator)
    limit: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    noun = _NOUNS.get(field, "item")
    if kind == "required":
        missing = next(f for f in limit if not (isinstance(instance, Mapping) and f in instance))
        return f"{field_path(path, [missing])}: required"
    if kind == "type" and limit == "string" and "pattern" in schema:
        text = explain_pattern(path, field, str(schema["pattern"]), instance)
        if text:
            return f"{path}: {text}"
    if kind == "type":
        return f"{path}: {_type_text(str(limit), field, in_map=_in_map(error))}"
    if kind == "enum":
        return f"{path}: must be one of {', '.join(str(c) for c in limit)}"
    if kind == "pattern":
        text = explain_pattern(path, field, str(limit), instance)
        return f"{path}: {text or 'does not have the expected form'}"
    if kind == "minLength":
        return f"{path}: must be a non-empty string"
    if kind == "maxLength":
        return f"{path}: longer than {limit} characters"
    if kind in ("minItems", "minProperties"):
        return f"{path}: must list at least {'one' if limit == 1 else limit} {noun}"
    if kind in ("maxItems", "maxProperties"):
        return f"{path}: at most {limit} {noun}s, got {len(instance)}"
    if kind == "minimum":
        return f"{path}: must be {'zero' if limit == 0 else limit} or more"
    if kind == "maximum":
        return f"{path}: must be {limit} or less"
    return f"{path}: does not fit the TruthCheck schema ({kind})"  # never echo the value


def _in_map(error: ValidationError) -> bool:
    """Whether the value is an entry of a free-form map (like headers), not a named field."""
    return "additionalProperties" in error.schema_path


def _type_text(expected: str, field: str, *, in_map: bool) -> str:
    if field in _CONTAINERS:
        return f"must be {_CONTAINERS[field]}"
    if expected == "object":
        return "must be an object"
    if expected == "array":
        return "must be a list"
    if expected == "boolean":
        return "must be true or false"
    if expected in ("number", "integer"):
        return "must be a number" if expected == "number" else "must be a whole number"
    return "must be a string" if in_map else "must be a non-empty string"
