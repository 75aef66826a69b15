"""Check a spec section's shape against its CRD schema, with messages that name the field.

The schema (webhooks.crds) is the only description of the shape: types, required fields, enums,
patterns, lengths and counts come from it, and so does the list of known fields (the CRD has no
``additionalProperties: false``, so unknown fields are found by walking its ``properties``).
This module only turns a jsonschema error into a sentence a user can act on; what a schema
cannot say (durations that parse, cross-field rules, refused headers) stays with the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from webhooks.common.schema import ValidationError, field_path, first_error, unknown_fields
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


def check_shape(
    value: object, schema: Mapping[str, Any], root: str, explain_pattern: PatternExplainer
) -> None:
    """Raise BadRequestError for the first way ``value`` does not fit ``schema``."""
    for parts, field, known in unknown_fields(value, schema):
        raise BadRequestError(
            f"{field_path(root, [*parts, field[:64]])}: unknown field; expected one of "
            f"{', '.join(sorted(known))}"
        )
    error = first_error(value, schema)  # in the schema's order of fields
    if error is not None:
        raise BadRequestError(_message(error, root, explain_pattern))


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
    if kind == "minimum" and schema.get("exclusiveMinimum") is True:  # draft 4's spelling
        return f"{path}: must be more than {'zero' if limit == 0 else limit}"
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
