"""Gatekeeper's ``spec.match``: which constraints apply to one object. Pure, no I/O.

The criteria and their order are Gatekeeper's: kinds (with API groups), scope, namespaces and
excludedNamespaces (``prefix*`` / ``*suffix`` globs), labelSelector, namespaceSelector, name.
Every criterion present must hold. A Namespace object is its own namespace (its name, its labels).
The namespace's labels for ``namespaceSelector`` come from the caller, who knows where they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webhooks.errors import PolicyError


@dataclass(frozen=True)
class KindSelector:
    groups: frozenset[str]  # empty or "*" = every group
    kinds: frozenset[str]  # empty or "*" = every kind


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LabelSelector:
    labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.labels.items()):
            return False
        for r in self.expressions:
            present = r.key in labels
            if r.operator == "In" and not (present and labels[r.key] in r.values):
                return False
            if r.operator == "NotIn" and present and labels[r.key] in r.values:
                return False
            if r.operator == "Exists" and not present:
                return False
            if r.operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True)
class Match:
    kinds: tuple[KindSelector, ...] = ()
    scope: str = "*"  # "*", "Cluster", "Namespaced"
    namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    label_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    name: str = ""

    def kind_names(self) -> frozenset[str] | None:
        """The kinds this match can select, or None when it may select any kind."""
        if not self.kinds:
            return None
        names: set[str] = set()
        for k in self.kinds:
            if not k.kinds or "*" in k.kinds:
                return None
            names |= k.kinds
        return frozenset(names)


def glob_matches(pattern: str, value: str) -> bool:
    """Gatekeeper's wildcard: ``kube-*`` (prefix), ``*-system`` (suffix), or exact."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of strings")
    return tuple(value)


def parse_selector(raw: object, where: str) -> LabelSelector | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be a mapping")
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise PolicyError(f"{where}.matchLabels must be a mapping")
    exprs: list[Requirement] = []
    for i, e in enumerate(raw.get("matchExpressions") or []):
        at = f"{where}.matchExpressions[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("key"), str):
            raise PolicyError(f"{at} needs a key")
        op = e.get("operator")
        values = _strings(e.get("values"), f"{at}.values")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise PolicyError(f"{at}.operator must be In, NotIn, Exists or DoesNotExist")
        if op in ("In", "NotIn") and not values:
            raise PolicyError(f"{at}: {op} needs values")
        exprs.append(Requirement(e["key"], op, frozenset(values)))
    return LabelSelector({str(k): str(v) for k, v in labels.items()}, tuple(exprs))


def parse_match(raw: object, where: str = "spec.match") -> Match:
    """A Constraint's ``spec.match``; PolicyError says which field is wrong."""
    if raw is None:
        return Match()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be a mapping")
    kinds: list[KindSelector] = []
    for i, k in enumerate(raw.get("kinds") or []):
        if not isinstance(k, dict):
            raise PolicyError(f"{where}.kinds[{i}] must be a mapping")
        kinds.append(
            KindSelector(
                frozenset(_strings(k.get("apiGroups"), f"{where}.kinds[{i}].apiGroups")),
                frozenset(_strings(k.get("kinds"), f"{where}.kinds[{i}].kinds")),
            )
        )
    scope = raw.get("scope") or "*"
    if scope not in ("*", "Cluster", "Namespaced"):
        raise PolicyError(f"{where}.scope must be *, Cluster or Namespaced")
    name = raw.get("name") or ""
    if not isinstance(name, str):
        raise PolicyError(f"{where}.name must be a string")
    return Match(
        kinds=tuple(kinds),
        scope=scope,
        namespaces=_strings(raw.get("namespaces"), f"{where}.namespaces"),
        excluded_namespaces=_strings(raw.get("excludedNamespaces"), f"{where}.excludedNamespaces"),
        label_selector=parse_selector(raw.get("labelSelector"), f"{where}.labelSelector"),
        namespace_selector=parse_selector(
            raw.get("namespaceSelector"), f"{where}.namespaceSelector"
        ),
        name=name,
    )


@dataclass(frozen=True)
class Target:
    """What matching needs to know about the object under review."""

    group: str
    kind: str
    name: str
    namespace: str  # "" for cluster-scoped objects
    labels: Mapping[str, str]
    generate_name: str = ""
    namespace_labels: Mapping[str, str] | None = None  # None: not known

    @property
    def is_namespace(self) -> bool:
        return self.kind == "Namespace" and self.group == ""

    @property
    def own_namespace(self) -> str:
        return self.name if self.is_namespace else self.namespace


def target_of(request: Mapping[str, Any], obj: Mapping[str, Any]) -> Target:
    """The matching view of an AdmissionRequest-shaped review and the object it is about."""
    kind = request.get("kind") or {}
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return Target(
        group=str(kind.get("group") or ""),
        kind=str(kind.get("kind") or ""),
        name=str(request.get("name") or meta.get("name") or ""),
        namespace=str(request.get("namespace") or meta.get("namespace") or ""),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        generate_name=str(meta.get("generateName") or ""),
    )


def needs_namespace_labels(match: Match, target: Target) -> bool:
    return (
        match.namespace_selector is not None and not target.is_namespace and target.namespace != ""
    )


def _any_glob(patterns: Sequence[str], value: str) -> bool:
    return any(glob_matches(p, value) for p in patterns)


def matches(match: Match, target: Target) -> bool:
    """Whether ``match`` selects ``target``. PolicyError when a needed namespace is unknown."""
    if match.kinds and not any(
        (not k.kinds or "*" in k.kinds or target.kind in k.kinds)
        and (not k.groups or "*" in k.groups or target.group in k.groups)
        for k in match.kinds
    ):
        return False
    has_namespace = target.namespace != ""
    if match.scope == "Cluster" and not (target.is_namespace or not has_namespace):
        return False
    if match.scope == "Namespaced" and (target.is_namespace or not has_namespace):
        return False
    namespace = target.own_namespace
    if match.namespaces and namespace and not _any_glob(match.namespaces, namespace):
        return False
    if match.excluded_namespaces and namespace and _any_glob(match.excluded_namespaces, namespace):
        return False
    if match.label_selector is not None and not match.label_selector.matches(target.labels):
        return False
    if match.namespace_selector is not None:
        if target.is_namespace:
            if not match.namespace_selector.matches(target.labels):
                return False
        elif has_namespace:
            if target.namespace_labels is None:
                raise PolicyError(
                    f"namespaceSelector needs the labels of namespace {target.namespace}, "
                    "which are not known"
                )
            if not match.namespace_selector.matches(target.namespace_labels):
                return False
    if match.name:
        return glob_matches(match.name, target.name) or (
            match.name.endswith("*")
            and target.generate_name != ""
            and target.generate_name.startswith(match.name[:-1])
        )
    return True
