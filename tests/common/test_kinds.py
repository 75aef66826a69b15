"""The workload kinds truthgate follows are the ones a TruthCheck may name."""

from __future__ import annotations

from pathlib import Path

import yaml

from webhooks.common.kinds import APPS_WORKLOAD_KINDS, WORKLOAD_KINDS

CRD = Path(__file__).parents[2] / "charts" / "truthgate" / "crds" / "truthchecks.truthgate.dev.yaml"


def test_the_crd_accepts_exactly_the_workload_kinds() -> None:
    crd = yaml.safe_load(CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    enum = spec["workloads"]["items"]["properties"]["kind"]["enum"]
    assert sorted(enum) == sorted(WORKLOAD_KINDS)
    assert set(APPS_WORKLOAD_KINDS) < set(WORKLOAD_KINDS)
