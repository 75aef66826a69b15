"""Shared helpers for checking what users install: the chart, argocd/, the image, the e2e script.

The chart is rendered by Helm's own Go engine (the ``helm-python-sdk`` wheel binds Helm v4's
SDK), so ``fail``, ``lookup``, ``genCA`` and the values schema behave as under ``helm install``.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
import yaml

from webhooks.checks import syncop
from webhooks.checks.context import CheckContext
from webhooks.evidence.model import Evidence

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "truthgate"
ARGOCD = ROOT / "argocd"
CRD = CHART / "crds" / "truthchecks.truthgate.dev.yaml"
HEALTH_LUA = ARGOCD / "health" / "truthgate.dev" / "TruthCheck" / "health.lua"

# The oldest Kubernetes the chart supports (matchConditions GA) and the newest schemas shipped.
KUBE_VERSIONS = ("1.30.0", "1.37.0")

Manifest = dict[str, Any]


def load_all(text: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(text) if d]


def render(
    values: Mapping[str, Any] | None = None, chart: Path = CHART, namespace: str = "truthgate"
) -> list[Manifest]:
    """The manifests `helm install truthgate <chart> -n <namespace>` would apply (a fresh copy:
    renders are cached because each one generates RSA keys)."""
    return copy.deepcopy(_render(json.dumps(values or {}, sort_keys=True), str(chart), namespace))


@functools.lru_cache(maxsize=64)
def _render(values_json: str, chart: str, namespace: str) -> list[Manifest]:
    import helm_python as helm

    with helm.Chart.load(chart) as loaded:
        files = loaded.render(
            json.loads(values_json), name="truthgate", namespace=namespace, is_install=True
        )
    docs: list[Manifest] = []
    for name, text in sorted(files.items()):
        if name.endswith("NOTES.txt"):
            continue
        docs.extend(load_all(text))
    return docs


def render_error(values: Mapping[str, Any]) -> str:
    """The message helm prints when it refuses these values (fails the test if it does not)."""
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as loaded:
        try:
            loaded.render(dict(values), name="truthgate", namespace="truthgate", is_install=True)
        except helm.HelmError as e:
            return str(e)
    pytest.fail(f"helm rendered values it should refuse: {values}")


def notes(values: Mapping[str, Any] | None = None) -> str:
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as loaded:
        files = loaded.render(
            dict(values or {}), name="truthgate", namespace="truthgate", is_install=True
        )
    return next(text for name, text in files.items() if name.endswith("NOTES.txt"))


def recognised_as_truthgates_own(job: Manifest) -> bool:
    """Whether the judge takes this hook Job, failed or running in a sync, for truthgate's own
    (never the cause of a failed sync) rather than the application's."""
    live = copy.deepcopy(job)
    namespace = live["metadata"].setdefault("namespace", "shop")
    ctx = CheckContext.from_evidence(cast(Evidence, {"objects": [live]}))
    step = syncop.Step({"hookType": "PostSync"}, "Job", namespace, live["metadata"]["name"])
    return syncop.is_own_hook(ctx, step)


def one(docs: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def kinds(docs: list[Manifest]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def validate_builtin(doc: Manifest) -> None:
    """Validate a built-in kind against the Kubernetes OpenAPI schemas (strict: unknown fields
    fail), for the oldest and the newest Kubernetes the chart supports."""
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def kustomize(path: Path) -> list[Manifest]:
    """`kubectl kustomize PATH`, i.e. what `kubectl apply -k PATH` would send."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with kustomize) is not installed on this machine")
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, f"kubectl kustomize {path} failed:\n{out.stderr}"
    return load_all(out.stdout)
