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

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class _PolicySet:
    generation: int
    sources: tuple[PolicySource, ...]
    metas: tuple[PolicyMeta, ...]
    rules: Mapping[str, frozenset[str]]  # package → which of deny/warn it defines
    # kind → (packages that target it, in order; the rules to evaluate). Filled on first use
    # per kind: routing and query strings are computed once per policy set, not per review.
    plans: dict[str, tuple[tuple[str, ...], tuple[_Step, ...]]] = field(default_factory=dict)

    def plan(self, kind: str) -> tuple[tuple[str, ...], tuple[_Step, ...]]:
        found = self.plans.get(kind)
        if found is None:
            packages = tuple(m.package for m in self.metas if targets(m, kind))
            steps = tuple(
                (package, rule, f"data.{package}.{rule}")
                for package in packages
                for rule in RULES
                if rule in self.rules.get(package, frozenset())
            )
            found = self.plans[kind] = (packages, steps)  # racing threads compute the same
        return found


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
        self._generation += 1
        return _PolicySet(self._generation, sources, metas, rules)

    def policies(self) -> Sequence[PolicyMeta]:
        return self._set.metas

    def reload(self) -> None:
        with self._lock:
            new = self._load()  # raises before the swap: the old set keeps serving
            self._set = new

    def _thread_engine(self, policy_set: _PolicySet) -> Any:
        local = self._local
        if getattr(local, "generation", None) != policy_set.generation:
            local.engine = new_engine(policy_set.sources)
            local.generation = policy_set.generation
        return local.engine

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        policy_set = self._set  # one consistent set for the whole evaluation
        packages, steps = policy_set.plan(kind)
        if not packages:
            return []
        engine = self._thread_engine(policy_set)
        try:
            engine.set_input(input_doc)  # plain JSON data; skips a json.dumps round (~40 µs)
        except BaseException as e:
            if _is_fatal(e):
                raise
            raise PolicyError(f"policy input rejected: {short(clean_error(e), 300)}") from e
        found: dict[tuple[str, str], tuple[str, ...]] = {}
        for package, rule, query in steps:
            try:
                # As JSON: a Python set cannot hold Gatekeeper-style object messages.
                text = engine.eval_rule_as_json(query)
            except BaseException as e:
                if _is_fatal(e):
                    raise
                raise PolicyError(f"{package}.{rule}: {short(clean_error(e), 300)}") from e
            if text != "[]":  # nearly every rule of an allowed review yields the empty set
                value = json.loads(text)
                found[package, rule] = messages(None if value == "<undefined>" else value)
        return [
            PolicyOutcome(p, found.get((p, "deny"), ()), found.get((p, "warn"), ()))
            for p in packages
        ]
