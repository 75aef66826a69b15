"""How the browser tests look at the extension: build it, serve it on the stage (harness.py)
with the real truthgate app behind the stand-in proxy, drive headless Debian Chromium through
the page (argocd/extension/test/drive.mjs) and return what a user sees. Screenshots land in
docs/ui/ when TRUTHGATE_UI_SHOTS is set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ui.harness import EXTENSION, WSGIApp, serving, stage
from webhooks.admission.config import load_config
from webhooks.common.times import format_time
from webhooks.ledger.store import IntentStore
from webhooks.policy.regorus_engine import RegorusEngine
from webhooks.server.app import create_app
from webhooks.server.metrics import Metrics
from webhooks.shipped import shipped_policy_dir

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "browser-proxy-token-0123456789"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
#: The browser's clock: 10 minutes after the scenes' verification (their Evidence's collectedAt).
VERIFIED = datetime(2026, 11, 27, 10, 12, tzinfo=UTC)
NOW = VERIFIED + timedelta(minutes=10)
STALE = "the truthgate auditor may have stopped or be failing"

NEEDS_BROWSER = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(
        not (EXTENSION / "node_modules" / "esbuild").is_dir(),
        reason="run `npm ci` in argocd/extension first (tools/test does)",
    ),
]


def build() -> None:
    for args in (["build.mjs"], ["build.mjs", "--harness"]):
        subprocess.run(["node", *args], cwd=EXTENSION, check=True, timeout=120)


def truthgate_app(store: IntentStore) -> WSGIApp:
    admission = shipped_policy_dir("admission")
    assert admission is not None
    config = load_config(admission / "enforcement.yaml")
    app: WSGIApp = create_app(config, RegorusEngine(admission), store, Metrics(), read_token=TOKEN)
    return app


def show(
    scenario: dict[str, Any],
    store: IntentStore,
    tmp_path: Path,
    name: str,
    now: datetime = NOW,
    *,
    upstream: WSGIApp | None = None,
    width: int = 1280,
) -> dict[str, Any]:
    """What a user sees of ``scenario`` with the browser's clock at ``now`` in a window
    ``width`` pixels wide; ``upstream`` stands in for truthgate behind the proxy (default: the
    real app on ``store``)."""
    backend = upstream if upstream is not None else truthgate_app(store)
    with serving(stage(scenario, backend, TOKEN)) as base:
        out = subprocess.run(
            [
                "node",
                "test/drive.mjs",
                f"{base}/harness/",
                str(tmp_path),
                format_time(now),
                str(width),
            ],
            cwd=EXTENSION,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert out.returncode == 0, out.stderr[-3000:]
    seen: dict[str, Any] = json.loads(out.stdout)
    if os.environ.get("TRUTHGATE_UI_SHOTS"):
        SHOTS.mkdir(exist_ok=True)
        for shot in seen["shots"]:
            shutil.copy(shot, SHOTS / f"{name}-{Path(shot).name}")
    return seen


def no_errors_and_only_proxy_calls(
    seen: dict[str, Any],
    allow_http_errors: bool = False,
    app: str = "argocd:shop-web",
    project: str = "shop",
) -> None:
    assert seen["pageErrors"] == [] and seen["dialogs"] == []
    errors = [m for m in seen["console"] if m["type"] in ("error", "warning")]
    if allow_http_errors:  # the browser itself logs a failed fetch's status; React logs nothing
        errors = [m for m in errors if "Failed to load resource" not in m["text"]]
    assert errors == []
    for r in seen["requests"]:
        path = r["url"].split("/", 3)[3]
        assert path.startswith(("harness/", "extensions/")), r["url"]
        if path.startswith("extensions/truthgate/"):
            assert r["method"] == "GET"
            assert r["headers"]["argocd-application-name"] == app
            assert r["headers"]["argocd-project-name"] == project
