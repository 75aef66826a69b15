"""apiVersion joined and split one way everywhere: the core group is written as the version alone."""

from __future__ import annotations

import pytest

from webhooks.common.api import API_VERSION, join_api_version, split_api_version
from webhooks.common.schema import package_schema


@pytest.mark.parametrize(
    ("group", "version", "text"),
    [
        ("apps", "v1", "apps/v1"),
        ("", "v1", "v1"),
        ("truthgate.dev", "v1alpha1", "truthgate.dev/v1alpha1"),
    ],
)
def test_api_versions_join_and_split_back(group: str, version: str, text: str) -> None:
    assert join_api_version(group, version) == text
    assert split_api_version(text) == (group, version)


def test_a_missing_api_version_has_no_group_and_no_version() -> None:
    assert split_api_version(None) == ("", "") and split_api_version("") == ("", "")


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("webhooks.evidence", "evidence.schema.json"),
        ("webhooks.admission", "enforcement.schema.json"),
    ],
)
def test_the_shipped_schemas_ask_for_truthgates_own_api_version(package: str, name: str) -> None:
    schema = package_schema(package, name)
    assert schema["properties"]["apiVersion"] == {"const": API_VERSION}
