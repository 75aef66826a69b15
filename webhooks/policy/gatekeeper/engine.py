"""Gatekeeper constraints behind the ``PolicyEngine`` interface, evaluated by regorus in process.

One regorus engine (per thread: regorus engines are unsendable) holds every template's Rego, in
v0 mode as Gatekeeper's default (``source.version: v1`` templates get ``import rego.v1``). Per
review:

1. the constraints whose ``match.kinds`` can select the review's kind (computed once per kind,
   like truthgate's own routing), filtered by the full ``spec.match``;
2. the review is serialised once; for each constraint the input is set to
   ``{"review": …, "parameters": <its parameters>}`` (from JSON text, parsed in Rust: about a
   tenth of a millisecond for a 3 KB Deployment) and ``data.…templates.<Kind>.violation`` is
   evaluated (a query ``with input.parameters as …`` was measured four times slower);
3. each violation's ``msg`` becomes ``[<constraint name>] <msg>``, Gatekeeper's format, in a
   PolicyOutcome that carries the constraint's own enforcement action.

``data.inventory`` (referential templates) comes from an ``InventoryCache`` the server refreshes
(the kinds of the Gatekeeper ``Config`` in the policy directory); each thread's engine replaces
its copy when the cache's generation changed. ``suite`` passes an inventory per case.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import regorus

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyMeta, PolicyOutcome
from webhooks.policy.gatekeeper.inventory import InventoryCache, SyncKind
from webhooks.policy.gatekeeper.load import ROOT, Constraint, Library, load_library
from webhooks.policy.gatekeeper.match import matches, needs_namespace_labels, target_of
from webhooks.policy.gatekeeper.namespaces import NamespaceLabels
from webhooks.policy.gatekeeper.review import admission_review, reviewed_object
from webhooks.policy.regorus_engine import clean_error, rule_names


def _fatal(error: BaseException) -> bool:
    return isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit)


def build_engine(library: Library, inventory: Mapping[str, Any] | None = None) -> Any:
    """A regorus engine with every template and its libs (and ``data.inventory``)."""
    engine = regorus.Engine()
    engine.set_rego_v0(True)
    for template in library.templates:
        for module in template.modules:
            try:
                engine.add_policy(module.name, module.text)
            except BaseException as e:  # pyo3 panics are BaseException
                if _fatal(e):
                    raise
                raise PolicyError(short(f"{module.name}: {clean_error(e)}", 400)) from e
    if inventory:
        engine.add_data({"inventory": dict(inventory)})
    return engine


def check_violation_rules(library: Library, engine: Any) -> None:
    """Every template defines ``violation``, as Gatekeeper requires; else its name in the error."""
    names = rule_names(engine)
    for t in library.templates:
        if "violation" not in names.get(t.package, frozenset()):
            raise PolicyError(f"{t.source}: ConstraintTemplate {t.name} defines no violation rule")


def review_json(review: Mapping[str, Any]) -> str:
    return json.dumps(review, separators=(",", ":"), default=str)


def violations(engine: Any, constraint: Constraint, review: str) -> list[dict[str, Any]]:
    """The violation objects ``constraint`` yields for the review (``review_json`` text)."""
    parameters = json.dumps(dict(constraint.parameters), separators=(",", ":"), default=str)
    try:
        engine.set_input_json(f'{{"review":{review},"parameters":{parameters}}}')
        text = engine.eval_rule_as_json(f"data.{ROOT}.templates.{constraint.kind}.violation")
    except BaseException as e:
        if _fatal(e):
            raise
        raise PolicyError(f"{constraint.id}: {short(clean_error(e), 300)}") from e
    value = json.loads(text)
    items = value if isinstance(value, list) else []
    return [item if isinstance(item, dict) else {"msg": item} for item in items]


def message(constraint: Constraint, violation: Mapping[str, Any]) -> str:
    msg = violation.get("msg")
    text = msg if isinstance(msg, str) else json.dumps(msg, sort_keys=True, default=str)
    return f"[{constraint.name}] {text}"


@dataclass(frozen=True)
class _Set:
    generation: int
    library: Library
    metas: tuple[PolicyMeta, ...]
    plans: dict[str, tuple[Constraint, ...]] = field(default_factory=dict)

    def plan(self, kind: str) -> tuple[Constraint, ...]:
        found = self.plans.get(kind)
        if found is None:
            found = tuple(
                c
                for c in self.library.constraints
                if c.action is not None
                and ((names := c.match.kind_names()) is None or kind in names)
            )
            self.plans[kind] = found  # racing threads compute the same
        return found


def _metas(library: Library) -> tuple[PolicyMeta, ...]:
    by_kind = {t.kind: t for t in library.templates}
    return tuple(
        PolicyMeta(
            package=c.id,
            title=by_kind[c.kind].name,
            description=f"Gatekeeper constraint {c.id}",
            kinds=c.match.kind_names() or frozenset(),
            source=c.source,
        )
        for c in sorted(library.constraints, key=lambda c: c.id)
    )


class GatekeeperEngine:
    """PolicyEngine over the ConstraintTemplates and Constraints under ``policy_dir``."""

    def __init__(
        self,
        policy_dir: Path,
        namespaces: NamespaceLabels | None = None,
        inventory: InventoryCache | None = None,
    ) -> None:
        self._dir = Path(policy_dir)
        self._namespaces = namespaces or NamespaceLabels(None)
        self._inventory = inventory or InventoryCache()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._generation = 0
        self._set = self._load()

    def _load(self) -> _Set:
        library = load_library(self._dir)
        check_violation_rules(library, build_engine(library))  # a broken template fails here
        self._inventory.want(library.sync)
        self._generation += 1
        return _Set(self._generation, library, _metas(library))

    def policies(self) -> Sequence[PolicyMeta]:
        return self._set.metas

    def reload(self) -> None:
        with self._lock:
            new = self._load()
            self._set = new

    @property
    def sync_kinds(self) -> tuple[SyncKind, ...]:
        """The kinds the policy directory's Config asks to keep in ``data.inventory``."""
        return self._set.library.sync

    def _engine(self, current: _Set) -> Any:
        local = self._local
        if getattr(local, "generation", None) != current.generation:
            local.engine = build_engine(current.library)
            local.generation = current.generation
            local.inventory = 0
        inventory_generation, data = self._inventory.snapshot()
        if local.inventory != inventory_generation:
            local.engine.clear_data()
            local.engine.add_data({"inventory": data})
            local.inventory = inventory_generation
        return local.engine

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        current = self._set
        request = input_doc.get("request")
        if not current.library.constraints or not isinstance(request, Mapping):
            return []
        # Built before routing, so the server's warm-up builds it for every thread.
        engine = self._engine(current)
        review = admission_review(request)
        target = target_of(review, reviewed_object(review))
        if target.is_namespace and request.get("operation") in ("CREATE", "UPDATE"):
            self._namespaces.remember(
                target.name, target.labels
            )  # even if no constraint targets it
        planned = current.plan(kind)
        if not planned:
            return []
        # A constraint that cannot be judged (its namespace's labels unknown, its Rego failing)
        # is an outcome with an error; the others' outcomes stand.
        labels_error: str | None = None
        if any(needs_namespace_labels(c.match, target) for c in planned):
            try:
                labels = self._namespaces.get(target.namespace)
                target = replace(target, namespace_labels=labels)
            except PolicyError as e:
                labels_error = short(e, 200)
        text = review_json(review)
        outcomes: list[PolicyOutcome] = []
        for c in planned:
            if labels_error is not None and needs_namespace_labels(c.match, target):
                outcomes.append(
                    PolicyOutcome(c.id, action=c.action, error=f"{c.id}: {labels_error}")
                )
                continue
            if not matches(c.match, target):
                continue
            try:
                found = violations(engine, c, text)
            except PolicyError as e:
                outcomes.append(PolicyOutcome(c.id, action=c.action, error=str(e)))
                continue
            msgs = tuple(sorted(message(c, v) for v in found))
            outcomes.append(PolicyOutcome(c.id, denials=msgs, action=c.action))
        return outcomes
