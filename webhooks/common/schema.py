"""JSON Schema checks whose errors name the field: the one way truthgate validates a shape.

A document's shape (types, required fields, enums, counts) is written once, as a JSON Schema:
the TruthCheck CRD's ``openAPIV3Schema`` (webhooks.crds), the Evidence contract and the
admission documents (``*.schema.json`` beside the module that reads them). This module
compiles each schema once, finds the first place a value does not fit, and gives the caller
what it needs to word the error by field path (``metrics[0].series``); the wording stays with
each document, because each has its own readers. What a schema cannot say (a time that parses,
a cross-field rule) stays in Python with the caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, cast

import jsonschema
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

__all__ = [
    "ValidationError",
    "field_path",
    "first_error",
    "generic_path",
    "json_type",
    "package_schema",
    "unknown_fields",
]

#: Compiled validators by the id of their schema; the schema is kept so the id stays its own.
_COMPILED: dict[int, tuple[Mapping[str, Any], Validator]] = {}


def package_schema(package: str, name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` shipped inside ``package`` (read once)."""
    return _package_schema(package, name)


@cache
def _package_schema(package: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(files(package).joinpath(name).read_text("utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


def _validator(schema: Mapping[str, Any]) -> Validator:
    """One compiled validator per schema: ``$schema`` picks the draft; none means draft 4
    (OpenAPI v3.0, which the CRDs use)."""
    entry = _COMPILED.get(id(schema))
    if entry is None or entry[0] is not schema:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
        entry = (schema, cls(schema))
        _COMPILED[id(schema)] = entry
    return entry[1]


def first_error(value: object, schema: Mapping[str, Any]) -> ValidationError | None:
    """The first way ``value`` does not fit ``schema`` (in the schema's order), or None."""
    return next(iter(_validator(schema).iter_errors(cast(Any, value))), None)


def field_path(root: str, parts: Sequence[str | int]) -> str:
    """``spec.baseline`` + ``["metrics", 1, "name"]`` -> ``spec.baseline.metrics[1].name``;
    an empty root gives ``metrics[1].name``."""
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def generic_path(parts: Sequence[str | int]) -> str:
    """The path with its indexes left out (``metrics[].series``), to key wording by field."""
    out = ""
    for part in parts:
        out += "[]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def json_type(value: object) -> str:
    """The JSON name of a value's type: object, array, string, number, boolean, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def unknown_fields(
    value: object, schema: Mapping[str, Any], parts: list[str | int] | None = None
) -> Iterator[tuple[list[str | int], str, list[str]]]:
    """Fields of ``value`` its schema does not name: (where, field, the known fields).

    For schemas without ``additionalProperties: false`` (the CRDs: the API server prunes
    unknown fields rather than refusing them), walking ``properties`` finds a typo all the same.
    """
    parts = parts or []
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
                yield from unknown_fields(item, sub, [*parts, key])
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            yield from unknown_fields(item, schema["items"], [*parts, i])
