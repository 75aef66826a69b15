"""The shipped CRDs' own ``openAPIV3Schema``, read once from the chart's files.

The API server validates a custom resource against its CRD; truthgate validates a spec it reads
(from a file, or from a cluster whose CRD may be older) against the same schema, so the two can
never disagree about a field's shape. Found through webhooks.shipped, like the Rego policies.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from webhooks.shipped import crd_roots, shipped_crd

TRUTHCHECK_CRD = "truthchecks.truthgate.dev.yaml"


@cache
def openapi_schema(filename: str) -> dict[str, Any]:
    """The storage version's ``openAPIV3Schema`` of the shipped CRD ``filename``."""
    path = shipped_crd(filename)
    if path is None:
        roots = ", ".join(str(r) for r in crd_roots())
        raise RuntimeError(f"the CRD {filename} is not installed (looked in {roots})")
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def truthcheck_spec_schema() -> dict[str, Any]:
    """The schema of a TruthCheck's ``spec``."""
    spec: dict[str, Any] = openapi_schema(TRUTHCHECK_CRD)["properties"]["spec"]
    return spec
