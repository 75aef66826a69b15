"""Reading ConstraintTemplates and Constraints from YAML, as ``gator`` reads them.

Templates (``templates.gatekeeper.sh/v1`` or ``v1beta1``, kind ``ConstraintTemplate``) carry the
Rego of the ``admission.k8s.gatekeeper.sh`` target: ``rego`` and ``libs`` (v1beta1 and early v1),
or a ``code`` entry with ``engine: Rego`` (``source.version: v1`` for Rego v1). Constraints
(``constraints.gatekeeper.sh/v1beta1`` or ``v1alpha1``) are instances of a template's kind, with
``spec.match``, ``spec.enforcementAction`` and ``spec.parameters``, the latter validated against
the template's ``openAPIV3Schema``. A Gatekeeper ``Config`` contributes its ``spec.sync.syncOnly``
(the kinds of ``data.inventory``). Every other YAML document is ignored (enforcement config,
suites, sample objects), so templates can sit next to truthgate's own Rego packages.

All templates share one Rego engine, so each template's package is moved under
``truthgate_gatekeeper.templates.<Kind>`` and its libs (``package lib.…``, as Gatekeeper requires)
under ``truthgate_gatekeeper.libs.<Kind>.lib.…``, with every ``data.lib.`` reference rewritten to
match: two templates may ship different libs under the same name, as Gatekeeper allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from webhooks.common.api import split_api_version
from webhooks.errors import PolicyError, short
from webhooks.policy.engine import EnforcementAction
from webhooks.policy.gatekeeper.inventory import SyncKind
from webhooks.policy.gatekeeper.match import Match, parse_match

TARGET = "admission.k8s.gatekeeper.sh"
WEBHOOK_ENFORCEMENT_POINT = "validation.gatekeeper.sh"
TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
CONFIG_GROUP = "config.gatekeeper.sh"
ROOT = "truthgate_gatekeeper"  # data.<ROOT>: rewritten packages and constraint parameters
MAX_YAML_BYTES = 2_000_000

_PACKAGE = re.compile(r"^(\s*package\s+)([A-Za-z_][\w.]*)", re.MULTILINE)
_DATA_LIB = re.compile(r"\bdata\.lib\b")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_V1_IMPORT = re.compile(r"^\s*import\s+rego\.v1\b", re.MULTILINE)


@dataclass(frozen=True)
class Module:
    """One Rego module of a template, rewritten into the shared engine's namespace."""

    name: str  # "<source>#<Kind>" or "<source>#<Kind>/lib<i>"
    text: str


@dataclass(frozen=True)
class Template:
    kind: str  # the constraint kind it defines (spec.crd.spec.names.kind)
    name: str  # metadata.name
    modules: tuple[Module, ...]
    schema: Mapping[str, Any] | None  # openAPIV3Schema of spec.parameters
    source: str
    uses_inventory: bool = False

    @property
    def package(self) -> str:
        return f"{ROOT}.templates.{self.kind}"


@dataclass(frozen=True)
class Constraint:
    kind: str
    name: str
    match: Match
    action: EnforcementAction | None  # None: not enforced by the admission webhook (scoped)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def id(self) -> str:
        """How outcomes, the enforcement config and the ledger name it."""
        return f"{self.kind}/{self.name}"


def yaml_documents(path: Path) -> list[Any]:
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise PolicyError(f"{path}: larger than {MAX_YAML_BYTES} bytes")
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: cannot read: {short(e, 200)}") from e
    except yaml.YAMLError as e:
        raise PolicyError(f"{path}: not valid YAML: {short(e, 200)}") from e


def yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise PolicyError(f"policy directory {directory} does not exist or is not a directory")
    return [
        p
        for p in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]


def api_group(doc: Mapping[str, Any]) -> str:
    return split_api_version(doc.get("apiVersion"))[0]


def is_template(doc: object) -> bool:
    return (
        isinstance(doc, dict)
        and api_group(doc) == TEMPLATE_GROUP
        and doc.get("kind") == "ConstraintTemplate"
    )


def is_constraint(doc: object) -> bool:
    return isinstance(doc, dict) and api_group(doc) == CONSTRAINT_GROUP


def _rewrite(text: str, kind: str, package: str, where: str) -> str:
    """Move a module's package to ``package`` and its ``data.lib`` references to the kind's libs."""
    found = _PACKAGE.search(text)
    if not found:
        raise PolicyError(f"{where}: no package declaration")
    text = text[: found.start(2)] + package + text[found.end(2) :]
    return _DATA_LIB.sub(f"data.{ROOT}.libs.{kind}.lib", text)


def _v1(text: str) -> str:
    """Rego v1 source in the engine's v0 mode: ``import rego.v1`` gives v1 semantics."""
    if _V1_IMPORT.search(text):
        return text
    found = _PACKAGE.search(text)
    if not found:
        return text
    end = text.find("\n", found.end())
    end = len(text) if end < 0 else end
    return text[:end] + "\nimport rego.v1" + text[end:]


def _rego_source(target: Mapping[str, Any]) -> tuple[str, list[str], bool]:
    """(rego, libs, is_v1) of a template target: the Rego ``code`` entry, else ``rego``."""
    for code in target.get("code") or []:
        if isinstance(code, dict) and code.get("engine") == "Rego":
            source = code.get("source") or {}
            if isinstance(source, dict) and isinstance(source.get("rego"), str):
                libs = source.get("libs") or []
                return source["rego"], list(libs), str(source.get("version") or "") == "v1"
    rego = target.get("rego")
    if isinstance(rego, str) and rego.strip():
        return rego, list(target.get("libs") or []), False
    return "", [], False


def parse_template(doc: Mapping[str, Any], source: str) -> Template:
    name = str((doc.get("metadata") or {}).get("name") or "")
    where = f"{source}: ConstraintTemplate {name or '?'}"
    spec = doc.get("spec") or {}
    crd = ((spec.get("crd") or {}).get("spec")) or {}
    kind = str((crd.get("names") or {}).get("kind") or "")
    if not _KIND.match(kind):
        raise PolicyError(f"{where}: spec.crd.spec.names.kind must be a kind name")
    if name and name != kind.lower():
        raise PolicyError(f"{where}: metadata.name must be the lowercase kind {kind.lower()!r}")
    schema = (crd.get("validation") or {}).get("openAPIV3Schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise PolicyError(f"{where}: openAPIV3Schema must be a mapping")
        try:
            jsonschema.Draft7Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise PolicyError(f"{where}: openAPIV3Schema: {short(e.message, 200)}") from e
    targets = [t for t in spec.get("targets") or [] if isinstance(t, dict)]
    target = next((t for t in targets if t.get("target") == TARGET), None)
    if target is None:
        raise PolicyError(f"{where}: no target {TARGET}")
    rego, libs, is_v1 = _rego_source(target)
    if not rego:
        raise PolicyError(f"{where}: the target has no Rego (CEL-only templates are not run)")
    package = f"{ROOT}.templates.{kind}"
    texts = [rego, *[lib for lib in libs if isinstance(lib, str)]]
    modules: list[Module] = []
    for i, text in enumerate(texts):
        at = f"{where}" + (f" lib {i}" if i else "")
        if i:
            lib_package = _PACKAGE.search(text)
            if not lib_package or not lib_package.group(2).startswith("lib."):
                raise PolicyError(f"{at}: a lib's package must start with lib.")
            pkg = f"{ROOT}.libs.{kind}.{lib_package.group(2)}"
        else:
            pkg = package
        body = _rewrite(text, kind, pkg, at)
        modules.append(
            Module(f"{source}#{kind}" + (f"/lib{i}" if i else ""), _v1(body) if is_v1 else body)
        )
    return Template(
        kind=kind,
        name=name or kind.lower(),
        modules=tuple(modules),
        schema=schema,
        source=source,
        uses_inventory=any("data.inventory" in t for t in texts),
    )


def _action(spec: Mapping[str, Any], where: str) -> EnforcementAction | None:
    raw = str(spec.get("enforcementAction") or "deny").strip().lower()
    if raw == "scoped":
        chosen: list[EnforcementAction] = []
        for entry in spec.get("scopedEnforcementActions") or []:
            points = {str(p.get("name")) for p in entry.get("enforcementPoints") or []}
            if points & {WEBHOOK_ENFORCEMENT_POINT, "*"}:
                chosen.append(_one_action(entry.get("action"), where))
        if not chosen:
            return None
        order = (EnforcementAction.DENY, EnforcementAction.WARN, EnforcementAction.DRYRUN)
        return min(chosen, key=order.index)  # the strictest action for this enforcement point
    return _one_action(raw, where)


def _one_action(value: object, where: str) -> EnforcementAction:
    try:
        return EnforcementAction(str(value).strip().lower())
    except ValueError:
        raise PolicyError(
            f"{where}: enforcementAction must be deny, warn, dryrun or scoped, "
            f"got {short(value, 40)!r}"
        ) from None


def parse_constraint(
    doc: Mapping[str, Any], source: str, templates: Mapping[str, Template]
) -> Constraint:
    kind = str(doc.get("kind") or "")
    name = str((doc.get("metadata") or {}).get("name") or "")
    where = f"{source}: {kind or '?'} {name or '?'}"
    if not name:
        raise PolicyError(f"{where}: metadata.name is required")
    template = templates.get(kind)
    if template is None:
        raise PolicyError(f"{where}: no ConstraintTemplate defines kind {kind!r}")
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise PolicyError(f"{where}: spec must be a mapping")
    parameters = spec.get("parameters")
    parameters = {} if parameters is None else parameters
    if template.schema is not None:
        try:
            jsonschema.validate(parameters, template.schema, cls=jsonschema.Draft7Validator)
        except jsonschema.ValidationError as e:
            at = ".".join(str(p) for p in e.absolute_path)
            raise PolicyError(
                f"{where}: spec.parameters{'.' + at if at else ''}: {short(e.message, 200)}"
            ) from e
    return Constraint(
        kind=kind,
        name=name,
        match=parse_match(spec.get("match"), f"{where}: spec.match"),
        action=_action(spec, where),
        parameters=parameters,
        source=source,
    )


@dataclass(frozen=True)
class Library:
    templates: tuple[Template, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    sync: tuple[SyncKind, ...] = ()  # Config spec.sync.syncOnly: the kinds of data.inventory


def build_library(
    templates: Iterable[tuple[Mapping[str, Any], str]],
    constraints: Iterable[tuple[Mapping[str, Any], str]],
) -> Library:
    """Templates first (constraints refer to their kinds); duplicates are errors."""
    by_kind: dict[str, Template] = {}
    for doc, source in templates:
        t = parse_template(doc, source)
        if t.kind in by_kind:
            raise PolicyError(
                f"{source}: kind {t.kind} is also defined in {by_kind[t.kind].source}"
            )
        by_kind[t.kind] = t
    seen: dict[str, Constraint] = {}
    for doc, source in constraints:
        c = parse_constraint(doc, source, by_kind)
        if c.id in seen:
            raise PolicyError(f"{source}: constraint {c.id} is also defined in {seen[c.id].source}")
        seen[c.id] = c
    return Library(tuple(by_kind.values()), tuple(seen.values()))


def is_config(doc: object) -> bool:
    return isinstance(doc, dict) and api_group(doc) == CONFIG_GROUP and doc.get("kind") == "Config"


def parse_sync(doc: Mapping[str, Any], source: str) -> list[SyncKind]:
    """``spec.sync.syncOnly`` of a Gatekeeper Config: the kinds to keep in data.inventory."""
    entries = ((doc.get("spec") or {}).get("sync") or {}).get("syncOnly") or []
    kinds: list[SyncKind] = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not e.get("version") or not _KIND.match(str(e.get("kind"))):
            raise PolicyError(f"{source}: Config spec.sync.syncOnly[{i}] needs version and kind")
        kinds.append(SyncKind(str(e.get("group") or ""), str(e["version"]), str(e["kind"])))
    return kinds


def load_library(directory: Path) -> Library:
    """Every template, constraint and sync Config in the YAML files under ``directory``."""
    templates: list[tuple[Mapping[str, Any], str]] = []
    constraints: list[tuple[Mapping[str, Any], str]] = []
    sync: list[SyncKind] = []
    for path in yaml_files(directory):
        rel = path.relative_to(directory).as_posix()
        for doc in yaml_documents(path):
            if is_template(doc):
                templates.append((doc, rel))
            elif is_constraint(doc):
                constraints.append((doc, rel))
            elif is_config(doc):
                sync.extend(k for k in parse_sync(doc, rel) if k not in sync)
    library = build_library(templates, constraints)
    return Library(library.templates, library.constraints, tuple(sync))


def has_gatekeeper_documents(directory: Path) -> bool:
    """Whether any YAML under ``directory`` is a ConstraintTemplate or a Constraint."""
    if not directory.is_dir():
        return False
    for path in yaml_files(directory):
        try:
            docs = yaml_documents(path)
        except PolicyError:
            return True  # let the loader report it
        if any(is_template(d) or is_constraint(d) or is_config(d) for d in docs):
            return True
    return False
