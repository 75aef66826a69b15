"""The Argo CD side of the read API, as an admin applies it from argocd/proxy-extension/: it
names the header the server checks, the path the bundle calls, and the RBAC that allows it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from webhooks.server.readapi import TOKEN_HEADER

ROOT = Path(__file__).resolve().parents[2]
PROXY = ROOT / "argocd" / "proxy-extension"


def test_the_proxy_adds_the_header_the_server_checks_from_argocd_secret() -> None:
    cm = yaml.safe_load((PROXY / "argocd-cm.yaml").read_text())
    config = yaml.safe_load(cm["data"]["extension.config.truthgate"])
    [service] = config["services"]
    assert service["url"].startswith("https://")
    [header] = service["headers"]
    assert header["name"] == TOKEN_HEADER
    assert header["value"].startswith("$")  # read from argocd-secret, never inline


def test_the_bundle_calls_the_proxy_route_that_config_registers() -> None:
    api = (ROOT / "argocd" / "extension" / "src" / "api.js").read_text()
    assert re.search(r'"/extensions/truthgate/api/v1/apps"', api)
    for header in ("Argocd-Application-Name", "Argocd-Project-Name"):
        assert header in api


def test_rbac_allows_invoking_the_truthgate_extension_and_proxying_is_enabled() -> None:
    rbac = yaml.safe_load((PROXY / "argocd-rbac-cm.yaml").read_text())
    lines = [line.split(",") for line in rbac["data"]["policy.csv"].splitlines() if line.strip()]
    assert [x.strip() for x in lines[0][2:]] == ["extensions", "invoke", "truthgate", "allow"]
    params = yaml.safe_load((PROXY / "argocd-cmd-params-cm.yaml").read_text())
    assert params["data"]["server.enable.proxy.extension"] == "true"


def test_the_installer_patch_mounts_the_extensions_volume_into_argocd_server() -> None:
    patch = yaml.safe_load((PROXY / "argocd-server-extension.yaml").read_text())
    pod = patch["spec"]["template"]["spec"]
    [init] = pod["initContainers"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env["EXTENSION_NAME"] == "truthgate"
    assert env["EXTENSION_URL"].endswith("/extension-truthgate.tar")
    mounts = [m["mountPath"] for c in [init, *pod["containers"]] for m in c["volumeMounts"]]
    assert mounts == ["/tmp/extensions/", "/tmp/extensions/"]
