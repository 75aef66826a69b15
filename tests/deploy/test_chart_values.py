"""values.schema.json: good values install, bad values fail at install with a message that
names the offending key — checked with jsonschema (draft-07, what editors use) and with Helm
itself (what `helm install` prints)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import CHART, render_error

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    """values.yaml with overrides applied the way helm merges maps."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    return merge(DEFAULTS, overrides)


def schema_errors(values: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    out = []
    for e in validator.iter_errors(values):
        for leaf in e.context or [e]:
            out.append(f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message}")
    return out


def test_the_schema_is_valid_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_default_values_pass_the_schema() -> None:
    assert schema_errors(DEFAULTS) == []


@pytest.mark.parametrize("path", CI_VALUES, ids=lambda p: p.name)
def test_every_example_values_file_passes_the_schema(path: Path) -> None:
    assert schema_errors(merged(yaml.safe_load(path.read_text()))) == []


def test_defaults_are_the_safe_quick_start() -> None:
    webhook = DEFAULTS["webhook"]
    assert webhook["failurePolicy"] == "Ignore"
    assert 1 <= webhook["timeoutSeconds"] <= 3
    assert webhook["failureMode"] == "fail-open"
    # One replica because the default ledger is SQLite; HA is ci/ha-postgres-values.yaml.
    assert DEFAULTS["replicas"] == 1
    assert DEFAULTS["ledger"]["type"] == "sqlite"
    assert DEFAULTS["podDisruptionBudget"]["maxUnavailable"] == 1


def test_the_ha_example_really_is_ha() -> None:
    ha = merged(yaml.safe_load((CHART / "ci" / "ha-postgres-values.yaml").read_text()))
    assert ha["replicas"] >= 2
    assert ha["ledger"]["type"] == "postgresql"
    assert ha["ledger"]["postgresql"]["existingSecret"]


# Each bad value: (overrides, where the schema error points, what helm's message contains).
BAD: dict[str, tuple[dict[str, Any], str, str]] = {
    "two replicas on sqlite": ({"replicas": 2}, "ledger/type", "value must be 'postgresql'"),
    "timeout of 30 seconds": (
        {"webhook": {"timeoutSeconds": 30}},
        "webhook/timeoutSeconds",
        "/webhook/timeoutSeconds': maximum: got 30, want 10",
    ),
    "timeout of 0 seconds": (
        {"webhook": {"timeoutSeconds": 0}},
        "webhook/timeoutSeconds",
        "minimum: got 0, want 1",
    ),
    "failurePolicy Sometimes": (
        {"webhook": {"failurePolicy": "Sometimes"}},
        "webhook/failurePolicy",
        "/webhook/failurePolicy': value must be one of 'Ignore', 'Fail'",
    ),
    "unknown top-level key": (
        {"replicaCount": 3},
        "",
        "additional properties 'replicaCount' not allowed",
    ),
    "unknown nested key (typo)": (
        {"webhook": {"timeoutSecond": 2}},
        "webhook",
        "additional properties 'timeoutSecond' not allowed",
    ),
    "zero replicas": ({"replicas": 0}, "replicas", "/replicas': minimum: got 0, want 1"),
    "unknown ledger type": (
        {"ledger": {"type": "mysql"}},
        "ledger/type",
        "value must be one of 'sqlite', 'postgresql'",
    ),
    "postgresql without a DSN secret": (
        {"ledger": {"type": "postgresql"}},
        "ledger/postgresql/existingSecret",
        "/ledger/postgresql/existingSecret': minLength: got 0, want 1",
    ),
    "timeout as a string": (
        {"webhook": {"timeoutSeconds": "3"}},
        "webhook/timeoutSeconds",
        "want integer",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=str)
def test_bad_values_fail_the_schema_at_the_offending_key(case: str) -> None:
    overrides, where, _ = BAD[case]
    errors = schema_errors(merged(overrides))
    assert errors, f"schema accepted {overrides}"
    assert any(e.split(": ", 1)[0] == where for e in errors), errors


@pytest.mark.parametrize("case", sorted(BAD), ids=str)
def test_helm_refuses_bad_values_with_a_clear_message(case: str) -> None:
    overrides, _, message = BAD[case]
    error = render_error(overrides)
    assert "don't meet the specifications of the schema" in error
    assert message in error, error


def test_two_replicas_on_sqlite_names_both_fields_in_helms_message() -> None:
    error = render_error({"replicas": 2})
    assert "/replicas': maximum: got 2, want 1" in error
    assert "/ledger/type': value must be 'postgresql'" in error


def test_two_replicas_with_postgresql_are_accepted() -> None:
    assert (
        schema_errors(
            merged(
                {
                    "replicas": 2,
                    "ledger": {
                        "type": "postgresql",
                        "postgresql": {"existingSecret": "truthgate-ledger"},
                    },
                }
            )
        )
        == []
    )
