"""The container image, as far as it can be checked without a Docker engine: the Dockerfile's
final stage and the layout it relies on. Building it is tools/e2e-kind's first step."""

from __future__ import annotations

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


def test_two_stages_and_the_final_one_is_slim_python() -> None:
    assert len(stages()) == 2
    assert "AS build" in stages()[0].splitlines()[0]
    assert stages()[1].splitlines()[0].strip() == "${PYTHON_IMAGE}"
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE)


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for word, rest in instructions(stages()[1]) if word == "USER"]
    assert users, "no USER in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0


def test_final_stage_installs_nothing_and_has_no_build_tools() -> None:
    for word, rest in instructions(stages()[1]):
        if word == "RUN":
            assert not any(tool in rest.split() for tool in BUILD_TOOLS), rest
            assert "pip install" not in rest, rest
        if word == "COPY":
            assert rest.startswith(("--from=build /opt/truthgate/venv", "policies ")), rest


def test_entrypoint_is_the_truthgate_command() -> None:
    entry = [rest for word, rest in instructions(stages()[1]) if word == "ENTRYPOINT"]
    assert entry == ['["truthgate"]']


def test_runtime_writes_go_only_to_tmp_and_the_ledger_volume() -> None:
    env = " ".join(rest for word, rest in instructions(stages()[1]) if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "TMPDIR=/tmp" in env and "HOME=/tmp" in env
    # Byte-compiled at build time, so nothing is written next to the code at run time.
    assert "compileall" in stages()[0]
    workdir = [rest for word, rest in instructions(stages()[1]) if word == "WORKDIR"]
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
    }
    copied = set(re.findall(r"(?m)^COPY (?!--from)(\S+(?: \S+)*) \S+$", DOCKERFILE))
    assert {word for c in copied for word in c.split()} <= allowed


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
