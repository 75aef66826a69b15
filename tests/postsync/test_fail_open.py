"""The hooks never stop a deploy because truthgate cannot judge.

`truthgate verify` (both phases) as Argo CD runs it, against the Kubernetes API over HTTP:
unreachable, 403, 404, 5xx, no TruthCheck, the CRD gone after `helm uninstall`. Each exits 0
with one line saying why; only a real Degraded verdict with onDivergence fail-sync/both
fails the hook. What it publishes never hides the application's other health.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kmock
import pytest

from tests.argocd_health.sandbox import run_health
from tests.cluster.fakeapi import ApiServer
from tests.postsync.test_verify_cli import status, truthgate
from tests.postsync.world import seed
from tests.support.net import free_port
from webhooks.cluster.resources import TRUTHCHECK

Web = tuple[str, dict[str, int]]
PHASES = ["pre-sync", "post-sync"]
HEALTH_LUA = (
    Path(__file__).resolve().parents[2] / "argocd/health/truthgate.dev/TruthCheck/health.lua"
).read_text()

APPLICATIONS = kmock.resource("argoproj.io", "v1alpha1", "applications")
TRUTHCHECKS = kmock.resource("truthgate.dev", "v1alpha1", "truthchecks")
SECRETS = kmock.resource("", "v1", "secrets")


def forbidden(what: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "code": 403,
        "reason": "Forbidden",
        "message": f'{what} is forbidden: User "system:serviceaccount:shop:truthgate-verifier" '
        f'cannot get resource "{what}"',
    }


def hook(api_url: str, phase: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """The hook as the Job runs it: it finds its app from its own Pod's Job."""
    return truthgate(
        "verify",
        "--server",
        api_url,
        "--no-wait",
        f"--phase={phase}",
        *extra,
        env={"POD_NAME": "shop-web-verify-x7k", "POD_NAMESPACE": "shop"},
    )


def assert_stepped_aside(out: subprocess.CompletedProcess[str], phase: str, why: str) -> None:
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"truthgate: not verified ({phase}), the sync goes on: ")
    assert why in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("phase", PHASES)
def test_unreachable_api_steps_aside(phase: str) -> None:
    out = hook(f"http://127.0.0.1:{free_port()}", phase, "--timeout=2")
    assert_stepped_aside(out, phase, "cannot reach the Kubernetes API")


@pytest.mark.parametrize("phase", PHASES)
def test_application_forbidden_steps_aside_and_says_so(
    api: ApiServer, web: Web, phase: str
) -> None:
    # The namespace is not in verifier.namespaces: no RoleBinding to read Applications.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, on_divergence="fail-sync")
    api.emulator[APPLICATIONS] << 403 << forbidden("applications.argoproj.io")
    out = hook(api.url, phase)
    assert_stepped_aside(out, phase, "forbidden: cannot get applications.argoproj.io")
    if phase == "post-sync":
        # The TruthCheck says why, and Argo CD shows it without hiding other health.
        st = status(api)
        assert st["verdict"] == "Unknown" and st["phase"] == "Verified"
        assert "forbidden" in st["summary"]
        assert (
            run_health(HEALTH_LUA, api.get(TRUTHCHECK, "shop", "shop-web") or {})["status"]
            == "Healthy"
        )


@pytest.mark.parametrize("phase", PHASES)
def test_api_server_errors_step_aside(api: ApiServer, web: Web, phase: str) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, on_divergence="both")
    api.emulator[APPLICATIONS] << 503 << {"kind": "Status", "code": 503, "message": "etcd down"}
    out = hook(api.url, phase)
    assert_stepped_aside(out, phase, "HTTP 503: etcd down")


@pytest.mark.parametrize("phase", PHASES)
def test_truthcheck_crd_gone_after_uninstall_steps_aside(
    api: ApiServer, web: Web, phase: str
) -> None:
    # `helm uninstall truthgate` with the hooks still in the app: the API serves no TruthChecks.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, on_divergence="fail-sync")
    api.emulator[TRUTHCHECKS] << 404 << {"kind": "Status", "code": 404, "reason": "NotFound"}
    out = hook(api.url, phase)
    assert out.returncode == 0, out.stderr
    if phase == "pre-sync":
        assert out.stdout.strip() == "no TruthCheck yet: nothing to mark"
    else:
        assert_stepped_aside(out, phase, "no TruthCheck in namespace shop")


def test_truthcheck_forbidden_in_pre_sync_steps_aside(api: ApiServer, web: Web) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, on_divergence="fail-sync")
    api.emulator[TRUTHCHECKS] << 403 << forbidden("truthchecks.truthgate.dev")
    out = hook(api.url, "pre-sync")
    assert_stepped_aside(out, "pre-sync", "cannot list truthchecks.truthgate.dev")


def test_only_a_real_degraded_verdict_with_fail_sync_fails_the_hook(
    api: ApiServer, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"}, on_divergence="fail-sync")
    out = hook(api.url, "post-sync")
    assert out.returncode == 1
    assert out.stdout.startswith("Degraded:")
    seed(api, {"web-broken": f"{url}/broken"}, on_divergence="degrade")
    assert hook(api.url, "post-sync").returncode == 0


def test_secrets_withheld_by_rbac_verify_without_them(api: ApiServer, web: Web) -> None:
    # verifier.rbac.readSecrets=false: listing Secrets is 403, the rest still tells the truth.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, on_divergence="both")
    api.emulator[SECRETS] << 403 << forbidden("secrets")
    out = hook(api.url, "post-sync")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Healthy: ")
    st = status(api)
    assert st["verdict"] == "Healthy"
    assert st["summary"].endswith("(not looked at: secrets in shop (forbidden))")

    # And a really Degraded app is still Degraded (not Unknown) without Secrets.
    seed(api, {"web-broken": f"{url}/broken"}, on_divergence="both")
    out = hook(api.url, "post-sync")
    assert out.returncode == 1
    assert status(api)["verdict"] == "Degraded"


def test_sigterm_leaves_no_truthcheck_verifying(api: ApiServer, web: Web) -> None:
    # A terminated sync (or the Job's deadline) sends SIGTERM while the run observes.
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, window="10m", on_divergence="fail-sync")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBERNETES_SERVICE_HOST", "POD_NAME", "POD_NAMESPACE", "TRUTHGATE_APP")
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhooks", "verify", "--server", api.url, "--app", "shop-web"],
        env=env | {"POD_NAMESPACE": "shop"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while status(api).get("phase") != "Verifying":
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "never started observing"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped (SIGTERM)" in out
    st = status(api)
    assert st["phase"] == "Verified" and st["verdict"] == "Unknown"
    assert "stopped (SIGTERM)" in st["summary"]
