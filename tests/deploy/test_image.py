"""The container image, as far as it can be checked without a Docker engine: the Dockerfile's
final stage and the layout it relies on. Building it is tools/e2e-kind's first step."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "clang", "cargo", "rustc", "apt-get")


def stages() -> list[str]:
    return re.split(r"(?m)^FROM ", DOCKERFILE)[1:]


def instructions(stage: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", stage)
    out = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_building_the_image_needs_a_docker_engine() -> None:
    if shutil.which("docker") is None or not Path("/var/run/docker.sock").exists():
        pytest.skip(
            "no Docker engine on this machine: the image is built by tools/e2e-kind "
            "(docker build) on a machine with Docker"
        )
    pytest.skip(
        "a Docker engine is present, but building the image downloads a base image "
        "and wheels: run tools/e2e-kind"
    )


def final_stage() -> str:
    return stages()[-1]


def test_stages_build_the_wheel_and_the_extension_and_the_final_one_is_slim_python() -> None:
    heads = [stage.splitlines()[0].strip() for stage in stages()]
    assert heads == ["${PYTHON_IMAGE} AS build", "${NODE_IMAGE} AS extension", "${PYTHON_IMAGE}"]
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE)
    # An official node image pinned by tag (major version and Debian release), never latest.
    assert re.search(r"(?m)^ARG NODE_IMAGE=node:20-bookworm-slim$", DOCKERFILE)


def test_extension_stage_builds_the_bundle_from_the_lockfile() -> None:
    steps = instructions(stages()[1])
    runs = [rest for word, rest in steps if word == "RUN"]
    assert runs == ["npm ci", "npm run build"]  # ci: the lock's versions or a failure
    copies = [rest for word, rest in steps if word == "COPY"]
    assert copies[0] == "argocd/extension/package.json argocd/extension/package-lock.json ./"
    # The same script CI and `npm run build` run, writing the bundle the final stage takes.
    package = json.loads((ROOT / "argocd/extension/package.json").read_text())
    assert package["scripts"]["build"] == "node build.mjs"
    assert '"dist/extension-truthgate.js"' in (ROOT / "argocd/extension/build.mjs").read_text()
    for copied in copies[1:]:
        source = copied.split()[0]
        assert (ROOT / source).exists(), source


def test_final_stage_carries_the_extension_bundle_at_a_stable_path() -> None:
    copies = [rest for word, rest in instructions(final_stage()) if word == "COPY"]
    assert (
        "--from=extension /src/dist/extension-truthgate.js "
        "/opt/truthgate/extension/extension-truthgate.js"
    ) in copies
    # Nothing else from the node stage: no node, npm or node_modules in the runtime image.
    assert [c for c in copies if c.startswith("--from=extension")] == [
        c for c in copies if "extension-truthgate.js" in c
    ]


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for word, rest in instructions(final_stage()) if word == "USER"]
    assert users, "no USER in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0


def test_final_stage_installs_nothing_and_has_no_build_tools() -> None:
    for word, rest in instructions(final_stage()):
        if word == "RUN":
            assert not any(tool in rest.split() for tool in BUILD_TOOLS), rest
            assert "pip install" not in rest, rest
        if word == "COPY":
            assert rest.startswith(
                (
                    "--from=build /opt/truthgate/venv",
                    "--from=extension /src/dist/extension-truthgate.js ",
                    "policies ",
                )
            ), rest
        assert "npm" not in rest.split() and "node" not in rest.split(), rest


def test_entrypoint_is_the_truthgate_command() -> None:
    entry = [rest for word, rest in instructions(final_stage()) if word == "ENTRYPOINT"]
    assert entry == ['["truthgate"]']


def test_runtime_writes_go_only_to_tmp_and_the_ledger_volume() -> None:
    env = " ".join(rest for word, rest in instructions(final_stage()) if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "TMPDIR=/tmp" in env and "HOME=/tmp" in env
    # Byte-compiled at build time, so nothing is written next to the code at run time.
    assert "compileall" in stages()[0]
    workdir = [rest for word, rest in instructions(final_stage()) if word == "WORKDIR"]
    assert workdir[-1] == "/var/lib/truthgate"


def test_shipped_policies_sit_where_truthgate_looks_for_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The image copies the policies to /opt/truthgate/policies and names that root in
    # TRUTHGATE_POLICY_ROOT, which both defaults (serve's admission, verify's verdict) honour.
    from webhooks.shipped import shipped_policy_dir

    assert "COPY policies /opt/truthgate/policies" in DOCKERFILE
    assert "TRUTHGATE_POLICY_ROOT=/opt/truthgate/policies" in DOCKERFILE
    assert "COPY policies ./policies" in DOCKERFILE  # the wheel's data files need them too
    for name in ("admission", "verdict"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("TRUTHGATE_POLICY_ROOT", str(tmp_path))
    assert shipped_policy_dir("verdict") == tmp_path / "verdict"
    assert shipped_policy_dir("admission") == tmp_path / "admission"


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    lines = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "webhooks",
        "policies",
        "charts/truthgate/crds",
        "argocd/extension/package.json",
        "argocd/extension/package-lock.json",
        "argocd/extension/build.mjs",
        "argocd/extension/src",
    }
    copied = set(re.findall(r"(?m)^COPY (?!--from)(\S+(?: \S+)*) \S+$", DOCKERFILE))
    assert {word for c in copied for word in c.split()} == allowed
    # The extension's installed modules and build output are never sent: the build makes them.
    assert not any(a.endswith(("node_modules", "dist")) or "/test" in a for a in allowed)


def test_the_image_and_ci_install_the_locked_versions() -> None:
    """One lock for both: the versions CI tested are the versions the image ships."""
    assert "-c requirements.lock" in DOCKERFILE
    tools_test = (ROOT / "tools" / "test").read_text()
    assert "-c requirements.lock" in tools_test and "tools/lock --check" in tools_test
    lock = (ROOT / "requirements.lock").read_text()
    pins = dict(
        ln.split("==", 1) for ln in lock.splitlines() if "==" in ln and not ln.startswith(" ")
    )
    for name in ("flask", "gunicorn", "kubernetes", "jsonpatch", "opa-python-client"):
        assert name in pins, name
