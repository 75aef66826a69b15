"""The parser and the TruthCheck CRD schema agree on spec.baseline.

The API server validates a TruthCheck against the CRD before truthgate ever reads it; if the two
disagreed, a user could apply a section truthgate then refuses (or the API server would apply a
default truthgate does not). Checked against the chart's CRD file itself.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.baseline.test_spec import FULL
from webhooks.baseline.spec import DEFAULT_BASELINE, DEFAULT_OBSERVE, MetricSpec, parse_baseline
from webhooks.common.durations import format_duration
from webhooks.crds import openapi_schema
from webhooks.errors import BadRequestError
from webhooks.shipped import crd_roots, shipped_crd

CRD = Path(__file__).parents[2] / "charts" / "truthgate" / "crds" / "truthchecks.truthgate.dev.yaml"


@pytest.fixture(scope="module")
def baseline_schema() -> dict[str, Any]:
    if not CRD.exists():
        pytest.skip(f"{CRD.name} is not in this tree")
    crd = yaml.safe_load(CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    spec: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    baseline: dict[str, Any] = spec["properties"]["baseline"]
    return baseline


def test_the_documented_example_is_valid_for_both(baseline_schema: dict[str, Any]) -> None:
    jsonschema.validate(FULL["baseline"], baseline_schema)
    assert parse_baseline(FULL) is not None


def test_the_schema_defaults_are_the_parser_defaults(baseline_schema: dict[str, Any]) -> None:
    metric = baseline_schema["properties"]["metrics"]["items"]["properties"]
    parsed = MetricSpec(name="m", query="up")
    assert metric["direction"]["default"] == parsed.direction
    assert metric["kind"]["default"] == parsed.kind
    assert metric["critical"]["default"] is parsed.critical
    tls = baseline_schema["properties"]["prometheus"]["properties"]["tls"]["properties"]
    assert tls["insecureSkipVerify"]["default"] is False
    windows = baseline_schema["properties"]["windows"]["properties"]
    # The schema leaves window defaults to truthgate; if it ever sets them they must match.
    assert windows["observe"].get("default", format_duration(DEFAULT_OBSERVE)) == "10m"
    assert windows["baseline"].get("default", format_duration(DEFAULT_BASELINE)) == "30m"


@pytest.mark.parametrize(
    "section",
    [
        {"prometheus": {"url": "http://p:9090"}, "metrics": [{"name": "m", "query": "up"}]},
        {
            "prometheus": {"url": "https://mimir.example/prometheus"},
            "metrics": [{"name": "a.b:c_d-e", "query": "up", "tolerance": {"absolute": 0}}],
            "windows": {"observe": "1h30m", "history": ["1w"]},
            "driftBudget": "0",
        },
    ],
)
def test_sections_the_parser_accepts_pass_the_schema(
    baseline_schema: dict[str, Any], section: dict[str, Any]
) -> None:
    assert parse_baseline({"baseline": section}) is not None
    jsonschema.validate(section, baseline_schema)


@pytest.mark.parametrize(
    "section",
    [
        {"prometheus": {"url": "http://user:pw@p:9090"}, "metrics": [{"name": "m", "query": "up"}]},
        {"prometheus": {"url": "p:9090"}, "metrics": [{"name": "m", "query": "up"}]},
        {"prometheus": {"url": "http://p"}, "metrics": []},
        {"prometheus": {"url": "http://p"}, "metrics": [{"name": "m m", "query": "up"}]},
        {
            "prometheus": {"url": "http://p"},
            "metrics": [{"name": "m", "query": "up", "direction": "up"}],
        },
        {
            "prometheus": {"url": "http://p"},
            "metrics": [{"name": "m", "query": "up"}],
            "windows": {"observe": "10 min"},
        },
        {
            "prometheus": {"url": "http://p"},
            "metrics": [{"name": "m", "query": "up", "tolerance": {"relative": -1}}],
        },
    ],
)
def test_sections_the_schema_refuses_the_parser_refuses_too(
    baseline_schema: dict[str, Any], section: dict[str, Any]
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(section, baseline_schema)
    with pytest.raises(Exception, match=r"^spec\.baseline\."):
        parse_baseline({"baseline": section})


def test_the_known_fields_are_the_schemas_own(baseline_schema: dict[str, Any]) -> None:
    """No list of fields in Python: a field the CRD names is accepted, any other is refused
    with the CRD's list."""
    metric = baseline_schema["properties"]["metrics"]["items"]["properties"]
    section = {"prometheus": {"url": "http://p"}, "metrics": [{"name": "m", "query": "up"}]}
    assert parse_baseline({"baseline": {**section, "maxDataLag": "5m"}}) is not None
    bad = {**section, "metrics": [{"name": "m", "query": "up", "weight": 2}]}
    with pytest.raises(BadRequestError) as caught:
        parse_baseline({"baseline": bad})
    assert str(caught.value) == (
        f"spec.baseline.metrics[0].weight: unknown field; expected one of {', '.join(sorted(metric))}"
    )


def test_the_crd_ships_where_an_installed_wheel_finds_it() -> None:
    """The wheel installs the chart's CRD as a data file; truthgate looks there after the
    checkout, so there is one file and no copy to drift."""
    data_files = tomllib.loads((CRD.parents[3] / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]["data-files"]
    [pattern] = data_files["share/truthgate/crds"]
    assert CRD in list(CRD.parents[3].glob(pattern))
    assert Path(sys.prefix) / "share" / "truthgate" / "crds" in crd_roots()
    assert shipped_crd(CRD.name) == CRD  # this checkout's own file
    assert (
        openapi_schema(CRD.name)["properties"]["spec"]["properties"]["baseline"]
        == (
            yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
                "properties"
            ]["spec"]["properties"]["baseline"]
        )
    )
