"""What a release ships: the wheel with its command and Rego, one version everywhere, the licence,
and pre-commit hooks that agree with CI."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import yaml

import webhooks

ROOT = Path(__file__).resolve().parents[1]
SET_VERSION = ROOT / "tools" / "set-version"
# sha256 of the Apache License 2.0 text as the Apache Software Foundation publishes it.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_wheel_ships_every_policy_as_data_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("truthgate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("/data/", 1)[1] for n in names if ".data/data/share/truthgate/" in n}
    expected = {
        "share/truthgate/policies/" + str(p.relative_to(ROOT / "policies"))
        for p in (ROOT / "policies").rglob("*")
        if p.is_file() and p.suffix in {".rego", ".yaml"}
    }
    assert expected and expected <= shipped
    assert "webhooks/py.typed" in names
    # The shapes of the documents truthgate reads ship inside the package.
    assert "webhooks/evidence/evidence.schema.json" in names
    assert "webhooks/admission/enforcement.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def pyproject(root: Path = ROOT) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def yaml_doc(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def versions_shipped(root: Path) -> dict[str, str]:
    """Every version a release ships, read the way its consumer reads it."""
    chart = yaml_doc(root / "charts/truthgate/Chart.yaml")
    package = json.loads((root / "argocd/extension/package.json").read_text())
    lock = json.loads((root / "argocd/extension/package-lock.json").read_text())
    out = {
        "pyproject.toml [project] version": pyproject(root)["project"]["version"],
        "Chart.yaml version": chart["version"],
        "Chart.yaml appVersion": chart["appVersion"],
        "extension package.json": package["version"],
        "extension package-lock.json": lock["version"],
        "extension package-lock.json root package": lock["packages"][""]["version"],
    }
    example = yaml_doc(root / "argocd/examples/shop-web/base/kustomization.yaml")
    (image,) = [i for i in example["images"] if i["name"] == "truthgate"]
    out["example app's hook image newTag"] = str(image["newTag"])
    installer = yaml_doc(root / "argocd/proxy-extension/argocd-server-extension.yaml")
    (init,) = installer["spec"]["template"]["spec"]["initContainers"]
    env = {e["name"]: e["value"] for e in init["env"]}
    out["extension installer EXTENSION_VERSION"] = env["EXTENSION_VERSION"]
    for key in ("EXTENSION_URL", "EXTENSION_CHECKSUM_URL"):
        match = re.search(r"/(\d+\.\d+\.\d+)/", env[key])
        out[f"extension installer {key}"] = match.group(1) if match else env[key]
    return out


def test_everything_a_release_ships_carries_the_one_version() -> None:
    shipped = versions_shipped(ROOT)
    want = shipped["pyproject.toml [project] version"]
    assert {k: v for k, v in shipped.items() if v != want} == {}
    # The image tag follows the chart's appVersion unless a user sets one.
    assert yaml_doc(ROOT / "charts/truthgate/values.yaml")["image"]["tag"] == ""
    assert (
        "default .Chart.AppVersion .Values.image.tag"
        in (ROOT / "charts/truthgate/templates/_helpers.tpl").read_text()
    )
    # `truthgate --version` reads the installed package's metadata: the same number.
    assert webhooks.__version__ == want
    out = subprocess.run(
        [str(Path(sys.executable).with_name("truthgate")), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == f"truthgate, version {want}"


def test_set_version_moves_every_copy_and_check_names_a_straggler(tmp_path: Path) -> None:
    for rel in (
        "pyproject.toml",
        "charts/truthgate/Chart.yaml",
        "argocd/extension/package.json",
        "argocd/extension/package-lock.json",
        "argocd/hook/kustomization.yaml",
        "argocd/examples/shop-web/base/kustomization.yaml",
        "argocd/proxy-extension/argocd-server-extension.yaml",
        "docs/install.md",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)

    def tool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SET_VERSION), "--root", str(tmp_path), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    assert tool("9.8.7").returncode == 0
    assert set(versions_shipped(tmp_path).values()) == {"9.8.7"}
    old = versions_shipped(ROOT)["Chart.yaml version"]
    assert old not in (tmp_path / "docs/install.md").read_text()  # the guide's examples too
    assert tool("--check").returncode == 0

    chart = tmp_path / "charts/truthgate/Chart.yaml"
    chart.write_text(chart.read_text().replace('appVersion: "9.8.7"', 'appVersion: "9.8.6"'))
    check = tool("--check")
    assert check.returncode == 1
    assert "charts/truthgate/Chart.yaml: 9.8.6, pyproject.toml says 9.8.7" in check.stderr
    refused = tool("1.0.0-rc.1")
    assert refused.returncode != 0 and "not a version X.Y.Z" in refused.stderr


def test_the_licence_is_the_apache_2_text_the_metadata_names() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert pyproject()["project"]["license"] == {"text": "Apache-2.0"}
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in (ROOT / "Dockerfile").read_text()


def test_pre_commit_runs_the_checks_of_tools_test_at_the_same_versions() -> None:
    config = yaml_doc(ROOT / ".pre-commit-config.yaml")
    repos = {r["repo"]: r for r in config["repos"]}
    ruff_repo = repos["https://github.com/astral-sh/ruff-pre-commit"]
    pins = [
        d for d in pyproject()["project"]["optional-dependencies"]["test"] if d.startswith("ruff")
    ]
    assert pins == [f"ruff=={ruff_repo['rev'].removeprefix('v')}"]
    installed = subprocess.run(
        [str(Path(sys.executable).with_name("ruff")), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert installed.stdout.split() == ["ruff", ruff_repo["rev"].removeprefix("v")]

    tools_test = (ROOT / "tools/test").read_text()
    assert "ruff check webhooks tests benchmarks" in tools_test
    assert "ruff format --check webhooks tests benchmarks" in tools_test
    hooks = {h["id"]: h for h in ruff_repo["hooks"]}
    assert set(hooks) == {"ruff-check", "ruff-format"}
    for hook in hooks.values():
        assert hook["files"] == "^(webhooks|tests|benchmarks)/"
    (mypy,) = repos["local"]["hooks"]
    # The .venv tools/test installs and runs, with pyproject's file list, as tools/test does.
    assert (mypy["entry"], mypy["pass_filenames"]) == (".venv/bin/mypy", False)
    assert "mypy" in tools_test and ".venv" in tools_test


def test_contributing_names_the_floors_lint_imports_enforces() -> None:
    [layers] = [
        c["layers"]
        for c in pyproject()["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers"
    ]
    floors = " → ".join(layer.replace("webhooks.", "") for layer in layers)
    assert f"\n{floors}\n" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
