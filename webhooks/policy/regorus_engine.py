"""The embedded Rego engine: regorus (Rust) in process, policies parsed once per load.

A regorus ``Engine`` is *unsendable*: pyo3 panics if it is touched from any thread but the one
that created it (``clone()`` from another thread included). gunicorn runs requests on several
threads, so every thread builds its own engine from the policy sources of the current
generation, lazily, and rebuilds only after a ``reload()`` changed the generation. Parsing the
shipped policies takes about a millisecond, so the first request of a thread pays that once.

``reload()`` validates the new set in full (read, parse, METADATA) before swapping it in; on
any error the old set keeps serving and PolicyError says which file is wrong.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyMeta, PolicyOutcome
from webhooks.policy.loader import PolicySource, load_sources, policy_metas, targets

RULES = ("deny", "warn")


_LOCATION = re.compile(r"-->\s*(\S+:\d+:\d+)")
_MESSAGE = re.compile(r"^\s*error:\s*(.+)$", re.MULTILINE)


def clean_error(error: BaseException) -> str:
    """One line from a regorus error: ``file:line:col: message`` when it names a location.

    regorus prints a caret diagram, and a Rust backtrace when RUST_BACKTRACE is set; neither
    belongs in a log line or an admission message.
    """
    text = str(error).split("Stack backtrace:", 1)[0].strip()
    location, message = _LOCATION.search(text), _MESSAGE.search(text)
    if location and message:
        return f"{location.group(1)}: {message.group(1).strip()}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _is_fatal(error: BaseException) -> bool:
    return isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit)


def new_engine(sources: Sequence[PolicySource], coverage: bool = False) -> Any:
    """A v1-syntax regorus engine with ``sources`` added; PolicyError names a file that fails."""
    engine = regorus.Engine()
    engine.set_rego_v0(False)
    if coverage:
        engine.set_enable_coverage(True)
    for src in sources:
        try:
            engine.add_policy(src.relpath, src.text)
        except BaseException as e:  # pyo3 panics are BaseException
            if _is_fatal(e):
                raise
            message = clean_error(e)
            if not message.startswith(src.relpath + ":"):
                message = f"{src.relpath}: {message}"
            raise PolicyError(short(message, 400)) from e
    return engine


def rule_names(engine: Any) -> dict[str, frozenset[str]]:
    """Package → names of the rules it defines, from regorus' AST."""
    out: dict[str, set[str]] = {}
    for module in json.loads(engine.get_ast_as_json()):
        ast = module.get("ast", {})
        package = ref_path(ast.get("package", {}).get("refr"))
        if package is None:
            continue
        names = out.setdefault(package, set())
        for rule in ast.get("rules", []):
            spec = rule.get("Spec") if isinstance(rule, dict) else None
            if not isinstance(spec, dict):
                continue
            head = spec.get("head") or {}
            for variant, body in head.items():
                if variant == "Func":
                    continue  # functions cannot be queried as documents
                name = ref_root(body.get("refr") if isinstance(body, dict) else None)
                if name:
                    names.add(name)
    return {p: frozenset(n) for p, n in out.items()}


def admission_policies(
    sources: Sequence[PolicySource], engine: Any
) -> tuple[tuple[PolicyMeta, ...], dict[str, frozenset[str]]]:
    """The packages that are policies (define ``deny`` or ``warn``; helper libraries are not)
    and which of the two rules each defines."""
    names = rule_names(engine)
    rules = {p: n & frozenset(RULES) for p, n in names.items()}
    metas = tuple(m for m in policy_metas(sources) if rules.get(m.package))
    return metas, {m.package: rules[m.package] for m in metas}


def ref_root(refr: Any) -> str | None:
    """Leftmost variable of a reference (``deny`` of ``deny contains …``)."""
    while isinstance(refr, dict):
        if "Var" in refr:
            value = refr["Var"].get("value")
            return value if isinstance(value, str) else None
        inner = refr.get("RefDot") or refr.get("RefBrack")
        refr = inner.get("refr") if isinstance(inner, dict) else None
    return None


def ref_path(refr: Any) -> str | None:
    """Dotted path of a package reference (``x.y`` of ``package x.y``)."""
    parts: list[str] = []
    while isinstance(refr, dict):
        if "Var" in refr:
            parts.append(str(refr["Var"].get("value")))
            return ".".join(reversed(parts))
        dot = refr.get("RefDot")
        if isinstance(dot, dict):
            field = dot.get("field")
            if isinstance(field, list) and len(field) == 2:
                parts.append(str(field[1]))
            refr = dot.get("refr")
            continue
        brack = refr.get("RefBrack")
        if isinstance(brack, dict):
            index = brack.get("index", {})
            value = index.get("String") if isinstance(index, dict) else None
            parts.append(str(value.get("value") if isinstance(value, dict) else value))
            refr = brack.get("refr")
            continue
        return None
    return None


def messages(value: object) -> tuple[str, ...]:
    """A deny/warn set as sorted strings (objects with ``msg`` are read Gatekeeper-style)."""
    if value is None:
        return ()
    items = value if isinstance(value, set | list | tuple | frozenset) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("msg"), str):
            out.append(item["msg"])
        else:
            out.append(json.dumps(item, sort_keys=True, default=str))
    return tuple(sorted(out))


# One rule to evaluate: the policy's package, "deny" or "warn", and the query text.
_Step = tuple[str, str, str]

# A generated module, in every thread engine but never a policy: one rule per routing plan that
# gathers the deny and warn sets of every policy targeting a kind into one array, so a review
# crosses into the engine once however many policies apply.
ROUTE_PACKAGE = "truthgate_internal_route"
ROUTE_FILE = "truthgate-internal-route.rego"


@dataclass(frozen=True)
class Plan:
    packages: tuple[str, ...]  # the policies targeting the kind, in order
    steps: tuple[_Step, ...]  # their rules
    route: str  # the query of the generated rule gathering every step, "" when none

    @property
    def silent(self) -> tuple[PolicyOutcome, ...]:
        """Every policy of the plan with nothing to say (outcomes are immutable: shared)."""
        return _silent(self.packages)


@functools.lru_cache(maxsize=256)
def _silent(packages: tuple[str, ...]) -> tuple[PolicyOutcome, ...]:
    return tuple(PolicyOutcome(p) for p in packages)


def plans(
    metas: Sequence[PolicyMeta], rules: Mapping[str, frozenset[str]]
) -> tuple[dict[str, Plan], Plan, str]:
    """A plan per kind named in a METADATA block, one for every other kind, and the module
    text of the rules that gather each plan's results."""

    def plan(kind: str, rule: str) -> Plan:
        packages = tuple(m.package for m in metas if targets(m, kind))
        steps = tuple(
            (package, r, f"data.{package}.{r}")
            for package in packages
            for r in RULES
            if r in rules.get(package, frozenset())
        )
        return Plan(packages, steps, f"data.{ROUTE_PACKAGE}.{rule}" if steps else "")

    kinds = sorted({k for m in metas for k in m.kinds})
    by_kind = {kind: plan(kind, f"kind_{i}") for i, kind in enumerate(kinds)}
    other = plan("", "other")  # no kind is named "": only the every-kind policies
    lines = [f"package {ROUTE_PACKAGE}", ""]
    for p in (*by_kind.values(), other):
        if p.steps:
            rule = p.route.rsplit(".", 1)[1]
            # One reference a line: regorus refuses lines over 1,024 columns.
            lines += [f"{rule} := [", *(f"\t{query}," for _, _, query in p.steps), "]"]
    return by_kind, other, "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _PolicySet:
    generation: int
    sources: tuple[PolicySource, ...]
    metas: tuple[PolicyMeta, ...]
    plans: Mapping[str, Plan]  # kind → plan, for every kind a METADATA block names
    other: Plan  # every other kind: the policies that target every kind
    route: PolicySource  # the generated module

    def plan(self, kind: str) -> Plan:
        return self.plans.get(kind, self.other)


class RegorusEngine:
    """PolicyEngine over every non-test ``.rego`` under ``policy_dir``, evaluated in process."""

    def __init__(self, policy_dir: Path, *, include_tests: bool = False) -> None:
        self._dir = Path(policy_dir)
        self._include_tests = include_tests
        self._lock = threading.Lock()
        self._local = threading.local()
        self._generation = 0
        self._set = self._load()

    @property
    def policy_dir(self) -> Path:
        return self._dir

    def _load(self) -> _PolicySet:
        sources = tuple(load_sources(self._dir, include_tests=self._include_tests))
        engine = new_engine(sources)  # parses everything: a broken file fails here
        metas, rules = admission_policies(sources, engine)
        by_kind, other, route_text = plans(metas, rules)
        route = PolicySource(Path(ROUTE_FILE), ROUTE_FILE, route_text, ROUTE_PACKAGE, None)
        new_engine([*sources, route])  # the generated rules compile with this set, or fail now
        self._generation += 1
        return _PolicySet(self._generation, sources, metas, by_kind, other, route)

    def policies(self) -> Sequence[PolicyMeta]:
        return self._set.metas

    def reload(self) -> None:
        with self._lock:
            new = self._load()  # raises before the swap: the old set keeps serving
            self._set = new

    def _thread_engine(self, policy_set: _PolicySet) -> Any:
        local = self._local
        if getattr(local, "generation", None) != policy_set.generation:
            local.engine = new_engine([*policy_set.sources, policy_set.route])
            local.generation = policy_set.generation
        return local.engine

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        policy_set = self._set  # one consistent set for the whole evaluation
        plan = policy_set.plan(kind)
        if not plan.packages:
            return []
        engine = self._thread_engine(policy_set)
        try:
            engine.set_input(input_doc)  # plain JSON data; skips a json.dumps round (~40 µs)
        except BaseException as e:
            if _is_fatal(e):
                raise
            raise PolicyError(f"policy input rejected: {short(clean_error(e), 300)}") from e
        found = _gathered(engine, plan) if plan.route else None
        if found is None:
            found = _one_by_one(engine, plan)
        if not found:  # nothing to say: the usual answer, built once per plan
            return list(plan.silent)
        errors = {package: error for (package, rule), error in found.items() if rule == "error"}
        return [
            PolicyOutcome(p, error=errors[p])
            if p in errors
            else PolicyOutcome(p, _msgs(found.get((p, "deny"))), _msgs(found.get((p, "warn"))))
            for p in plan.packages
        ]


_Found = dict[tuple[str, str], Any]  # (package, "deny" | "warn" | "error") → the value


def _msgs(value: Any) -> tuple[str, ...]:
    return () if value is None else messages(value)


def _gathered(engine: Any, plan: Plan) -> _Found | None:
    """Every rule of the plan in one evaluation; None when any of them fails (or is not a
    set), so that the rules are then evaluated one by one and each error stays its policy's."""
    try:
        # As JSON: a Python set cannot hold Gatekeeper-style object messages.
        text = engine.eval_rule_as_json(plan.route)
    except BaseException as e:
        if _is_fatal(e):
            raise
        return None
    values = json.loads(text)
    if not isinstance(values, list) or len(values) != len(plan.steps):
        return None
    # Nearly every rule of an allowed review yields the empty set.
    return {(p, r): v for (p, r, _), v in zip(plan.steps, values, strict=True) if v}


def _one_by_one(engine: Any, plan: Plan) -> _Found:
    found: _Found = {}
    for package, rule, query in plan.steps:
        if (package, "error") in found:
            continue
        try:
            text = engine.eval_rule_as_json(query)
        except BaseException as e:
            if _is_fatal(e):
                raise
            found[package, "error"] = f"{package}.{rule}: {short(clean_error(e), 300)}"
            continue
        if text != "[]":
            value = json.loads(text)
            found[package, rule] = None if value == "<undefined>" else value
    return found
