"""Rego unit tests, run the way ``opa test`` runs them, on the embedded engine.

Every ``.rego`` under a directory (policies and ``*_test.rego`` alike) is loaded into one
regorus engine; every rule named ``test_*`` in every package is a test case, passing when it
evaluates to ``true``. ``todo_test_*`` rules are counted as skipped, as OPA does. With coverage
on, regorus records which lines of each file evaluation touched.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from webhooks.errors import PolicyError, short
from webhooks.policy.loader import is_test_file, load_sources
from webhooks.policy.regorus_engine import clean_error, new_engine, ref_path, ref_root

Status = Literal["PASS", "FAIL", "ERROR", "SKIPPED"]


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest test class

    package: str
    rule: str
    file: str

    @property
    def name(self) -> str:
        return f"data.{self.package}.{self.rule}"


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class

    case: TestCase
    status: Status
    seconds: float
    detail: str = ""  # why it errored, or what the test printed
    prints: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileCoverage:
    path: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 if total == 0 else 100.0 * len(self.covered) / total


@dataclass(frozen=True)
class TestRun:
    __test__ = False  # not a pytest test class

    results: tuple[TestResult, ...]
    coverage: tuple[FileCoverage, ...] | None = None

    @property
    def failed(self) -> int:
        return sum(r.status in ("FAIL", "ERROR") for r in self.results)

    @property
    def counted(self) -> int:
        return sum(r.status != "SKIPPED" for r in self.results)


def discover_tests(engine: Any) -> list[TestCase]:
    """``test_*`` / ``todo_test_*`` rules in file and source order, each once."""
    cases: list[TestCase] = []
    seen: set[tuple[str, str]] = set()
    for module in json.loads(engine.get_ast_as_json()):
        ast = module.get("ast", {})
        file = str(module.get("source", {}).get("file", ""))
        package = ref_path(ast.get("package", {}).get("refr"))
        if package is None:
            continue
        for rule in ast.get("rules", []):
            spec = rule.get("Spec") if isinstance(rule, dict) else None
            head = spec.get("head") if isinstance(spec, dict) else None
            if not isinstance(head, dict) or "Func" in head:
                continue  # a test takes no arguments
            body = next(iter(head.values()), None)
            name = ref_root(body.get("refr") if isinstance(body, dict) else None)
            if name and (name.startswith(("test_", "todo_test_"))) and (package, name) not in seen:
                seen.add((package, name))
                cases.append(TestCase(package, name, file))
    return cases


def _rule_lines(engine: Any) -> dict[str, list[list[int]]]:
    """File → for each rule, its non-blank, non-comment lines (1-based)."""
    out: dict[str, list[list[int]]] = {}
    for module in json.loads(engine.get_ast_as_json()):
        source = module.get("source", {})
        file, text = str(source.get("file", "")), str(source.get("contents", ""))
        lines = text.splitlines()
        for rule in module.get("ast", {}).get("rules", []):
            body: Any = next(iter(rule.values()), None) if isinstance(rule, dict) else None
            span = body.get("span") if isinstance(body, dict) else None
            if not isinstance(span, dict):
                continue
            first = int(span.get("line", 0))
            last = first + text.count("\n", int(span.get("start", 0)), int(span.get("end", 0)))
            out.setdefault(file, []).append(
                [
                    n
                    for n in range(first, last + 1)
                    if 0 < n <= len(lines)
                    and lines[n - 1].strip()
                    and not lines[n - 1].lstrip().startswith("#")
                ]
            )
    return out


def _coverage(engine: Any) -> tuple[FileCoverage, ...]:
    """Per policy file, lines evaluated and not. regorus reports only rules it entered; a rule
    no test reached at all is added here as not covered, as ``opa test --coverage`` shows it."""
    report = json.loads(engine.get_coverage_report_as_json())
    entries = {str(e.get("path", "")): e for e in report.get("files", [])}
    rules = _rule_lines(engine)
    out: list[FileCoverage] = []
    for path in sorted(set(entries) | set(rules)):
        if is_test_file(Path(path)):
            continue  # coverage of the policies, not of the tests themselves
        entry = entries.get(path, {})  # a file no test reached is absent from the report
        covered = set(entry.get("covered", []))
        not_covered = set(entry.get("not_covered", []))
        for lines in rules.get(path, []):
            if not (covered | not_covered) & set(lines):
                not_covered.update(lines)
        out.append(
            FileCoverage(
                path=path,
                covered=tuple(sorted(covered)),
                not_covered=tuple(sorted(not_covered - covered)),
            )
        )
    return tuple(sorted(out, key=lambda c: c.path))


def run_tests(
    directory: Path,
    *,
    pattern: str | None = None,
    coverage: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> TestRun:
    """Load ``directory`` and run its tests; PolicyError (naming the file) if it does not load."""
    try:
        selector = re.compile(pattern) if pattern else None
    except re.error as e:
        raise PolicyError(f"--run: not a regular expression: {e}") from e
    sources = load_sources(directory, include_tests=True)
    if not sources:
        raise PolicyError(f"no .rego files under {directory}")
    engine = new_engine(sources, coverage=coverage)
    engine.set_gather_prints(True)
    results: list[TestResult] = []
    for case in discover_tests(engine):
        if selector is not None and not selector.search(case.name):
            continue
        if case.rule.startswith("todo_"):
            results.append(TestResult(case, "SKIPPED", 0.0))
            continue
        start = clock()
        status: Status
        detail = ""
        try:
            value = engine.eval_rule(case.name)
            status = "PASS" if value is True else "FAIL"
        except Exception as e:
            status, detail = "ERROR", short(clean_error(e), 500)
        seconds = clock() - start
        prints = tuple(str(p) for p in engine.take_prints())
        results.append(TestResult(case, status, seconds, detail, prints))
    return TestRun(tuple(results), _coverage(engine) if coverage else None)


def line_ranges(lines: tuple[int, ...]) -> str:
    """(3, 4, 5, 9) → "3-5, 9"."""
    parts: list[str] = []
    start = prev = None
    for n in lines:
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = n
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)
