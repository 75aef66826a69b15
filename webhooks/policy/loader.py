"""Reading a directory of Rego: sources, packages and their METADATA blocks.

Shared by every engine and by ``truthgate policy test`` so they agree on what a policy is:
one Rego package; its title, description and target kinds come from the OPA-style METADATA
comment block directly above the ``package`` line::

    # METADATA
    # title: Images must be immutable
    # description: Containers of GitOps-managed workloads name a tag other than latest or a digest.
    # custom:
    #   kinds: [Pod, Deployment, StatefulSet]
    package truthgate.admission.mutable_images

``custom.kinds`` lists the ``request.kind.kind`` values the policy targets; absent, empty or
``["*"]`` means every kind. Files ending ``_test.rego`` are unit tests: engines skip them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyMeta

MAX_POLICY_BYTES = 1_000_000  # a Rego file bigger than this is a mistake, not a policy

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)\s*(?:#.*)?$", re.MULTILINE)


@dataclass(frozen=True)
class PolicySource:
    path: Path  # as found on disk
    relpath: str  # relative to the policy directory, "/"-separated (stable ids)
    text: str
    package: str
    meta: dict[str, Any] | None  # the package-scoped METADATA document, if any


def is_test_file(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def rego_files(directory: Path, include_tests: bool) -> list[Path]:
    """Every ``.rego`` under ``directory`` (recursively, sorted; hidden dirs skipped)."""
    if not directory.is_dir():
        raise PolicyError(f"policy directory {directory} does not exist or is not a directory")
    files = [
        p
        for p in sorted(directory.rglob("*.rego"))
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and (include_tests or not is_test_file(p))
    ]
    return files


def metadata_block(text: str, package_line: int) -> dict[str, Any] | None:
    """The YAML of the ``# METADATA`` comment block ending right above ``package_line``."""
    lines = text.splitlines()
    i = package_line - 1
    block: list[str] = []
    while i >= 0 and lines[i].lstrip().startswith("#"):
        block.append(lines[i].lstrip())
        i -= 1
    block.reverse()
    for start, line in enumerate(block):
        if line[1:].strip() == "METADATA":
            body = [ln[2:] if ln.startswith("# ") else ln[1:] for ln in block[start + 1 :]]
            doc = yaml.safe_load("\n".join(body)) if body else None
            if doc is not None and not isinstance(doc, dict):
                raise ValueError("METADATA must be a YAML mapping")
            return doc or {}
    return None


def read_source(path: Path, directory: Path) -> PolicySource:
    """Read one Rego file and find its package and METADATA; PolicyError names the file."""
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"{path}: larger than {MAX_POLICY_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: cannot read: {short(e, 200)}") from e
    match = _PACKAGE.search(text)
    if not match:
        raise PolicyError(f"{path}: no package declaration")
    package_line = text.count("\n", 0, match.start(1))
    try:
        meta = metadata_block(text, package_line)
    except (yaml.YAMLError, ValueError) as e:
        raise PolicyError(f"{path}: METADATA block is not valid YAML: {short(e, 200)}") from e
    return PolicySource(
        path=path,
        relpath=path.relative_to(directory).as_posix(),
        text=text,
        package=match.group(1),
        meta=meta,
    )


def load_sources(directory: Path, include_tests: bool = False) -> list[PolicySource]:
    return [read_source(p, directory) for p in rego_files(directory, include_tests)]


def _kinds(meta: dict[str, Any], where: str) -> frozenset[str]:
    custom = meta.get("custom") or {}
    if not isinstance(custom, dict):
        raise PolicyError(f"{where}: METADATA custom must be a mapping")
    kinds = custom.get("kinds")
    if kinds is None:
        return frozenset()
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds):
        raise PolicyError(f"{where}: METADATA custom.kinds must be a list of kind names")
    return frozenset() if "*" in kinds else frozenset(kinds)


def policy_metas(sources: Iterable[PolicySource]) -> list[PolicyMeta]:
    """One PolicyMeta per package (the first file with a METADATA block describes it)."""
    by_package: dict[str, PolicyMeta] = {}
    described: set[str] = set()
    for src in sources:
        if src.package in described or (src.package in by_package and src.meta is None):
            continue
        if src.meta is not None:
            described.add(src.package)
        meta = src.meta or {}
        by_package[src.package] = PolicyMeta(
            package=src.package,
            title=str(meta.get("title") or ""),
            description=str(meta.get("description") or "").strip(),
            kinds=_kinds(meta, src.relpath),
            source=src.relpath,
        )
    return [by_package[p] for p in sorted(by_package)]


def targets(meta: PolicyMeta, kind: str) -> bool:
    return not meta.kinds or kind in meta.kinds
