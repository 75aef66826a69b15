"""``gator verify`` Suites: templates, constraints and cases with assertions, run in process.

A Suite (``kind: Suite``, ``test.gatekeeper.sh/v1alpha1``) lists tests; each names a template
and a constraint (paths relative to the suite file) and cases: an ``object`` to review (or an
``AdmissionReview``, for UPDATE and DELETE), optional ``inventory`` files for ``data.inventory``,
and ``assertions``. An assertion counts the violations whose message matches ``message`` (a
regular expression; every violation when absent) and compares the count with ``violations``:
``yes`` (at least one, the default), ``no`` (none) or a number (exactly). The constraint's
``spec.match`` applies, as in gator: a case whose object it does not select has no violations.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from webhooks.common.api import split_api_version
from webhooks.errors import PolicyError, short
from webhooks.policy.gatekeeper.engine import build_engine, review_json, violations
from webhooks.policy.gatekeeper.inventory import inventory_of
from webhooks.policy.gatekeeper.load import (
    Library,
    build_library,
    is_constraint,
    is_template,
    yaml_documents,
)
from webhooks.policy.gatekeeper.match import matches, needs_namespace_labels, target_of
from webhooks.policy.gatekeeper.review import admission_review, object_review, reviewed_object

SUITE_GROUP = "test.gatekeeper.sh"


@dataclass(frozen=True)
class CaseResult:
    suite: str
    test: str
    case: str
    error: str | None = None  # None: passed
    skipped: bool = False
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.skipped


@dataclass
class SuiteRun:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.error is not None for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.results)


def is_suite(doc: object) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("kind") == "Suite"
        and split_api_version(doc.get("apiVersion"))[0] == SUITE_GROUP
    )


def find_suites(paths: Sequence[Path]) -> list[Path]:
    """Suite files among ``paths``: files as given, directories searched for ``kind: Suite``."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for p in sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]):
                if p.is_file() and "Suite" in p.read_text(encoding="utf-8", errors="replace"):
                    try:
                        docs = yaml_documents(p)
                    except PolicyError:
                        continue
                    if any(is_suite(d) for d in docs):
                        found.append(p)
        else:
            raise PolicyError(f"{path}: no such file or directory")
    return found


def _objects(path: Path) -> list[Mapping[str, Any]]:
    docs = yaml_documents(path)
    out: list[Mapping[str, Any]] = []
    for doc in docs:
        if (
            isinstance(doc, dict)
            and doc.get("kind") == "List"
            and isinstance(doc.get("items"), list)
        ):
            out.extend(i for i in doc["items"] if isinstance(i, dict))
        elif isinstance(doc, dict):
            out.append(doc)
    return out


def expected_count(value: object) -> int | str:
    """``violations`` as written: yes / no (YAML may read them as booleans) or a number."""
    if value is None or value is True or value == "yes":
        return "yes"
    if value is False or value == "no":
        return "no"
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise PolicyError(
        f'assertion.violations must be a nonnegative integer, "yes" or "no", got {value!r}'
    )


def check_assertion(assertion: Mapping[str, Any], messages: Sequence[str]) -> str | None:
    """None when the assertion holds, else why not (in gator's words)."""
    want = expected_count(assertion.get("violations"))
    pattern = assertion.get("message")
    if pattern is not None:
        try:
            regex = re.compile(str(pattern))
        except re.error as e:
            raise PolicyError(f"assertion.message is not a regular expression: {e}") from e
        matching = sum(1 for m in messages if regex.search(m))
        what = f"violations containing {str(pattern)!r}"
    else:
        matching, what = len(messages), "violations"
    if want == "yes" and matching == 0:
        error = f"got 0 {what} but want at least 1"
    elif want == "no" and matching > 0:
        error = f"got {matching} {what} but want none"
    elif isinstance(want, int) and matching != want:
        error = f"got {matching} {what} but want exactly {want}"
    else:
        return None
    return f"{error}: got messages {list(messages)}"


def review_messages(
    library: Library, obj_doc: Mapping[str, Any], inventory: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The violation messages of the test's constraint for one case object."""
    if obj_doc.get("kind") == "AdmissionReview":
        request = obj_doc.get("request")
        if not isinstance(request, dict):
            raise PolicyError("AdmissionReview has no request")
        req = dict(request)
        obj = req.get("object") or req.get("oldObject") or {}
        if "kind" not in req and isinstance(obj, dict):
            req["kind"] = object_review(obj)["kind"]
        review = admission_review(req)
    else:
        review = object_review(obj_doc)
    target = target_of(review, reviewed_object(review))
    engine = build_engine(library, inventory_of(inventory) if inventory else None)
    text = review_json(review)
    found: list[str] = []
    for constraint in library.constraints:
        if needs_namespace_labels(constraint.match, target):
            ns = next(
                (
                    o
                    for o in inventory
                    if o.get("kind") == "Namespace"
                    and (o.get("metadata") or {}).get("name") == target.namespace
                ),
                None,
            )
            if ns is None:
                raise PolicyError(f"namespaceSelector needs namespace {target.namespace}")
            labels = (ns.get("metadata") or {}).get("labels") or {}
            target = replace(target, namespace_labels=labels)
        if not matches(constraint.match, target):
            continue
        for v in violations(engine, constraint, text):
            msg = v.get("msg")
            found.append(msg if isinstance(msg, str) else str(msg))
    return found


def _load_test(base: Path, test: Mapping[str, Any]) -> Library:
    templates = [(d, str(test["template"])) for d in yaml_documents(base / str(test["template"]))]
    constraints = [
        (d, str(test["constraint"])) for d in yaml_documents(base / str(test["constraint"]))
    ]
    return build_library(
        [t for t in templates if is_template(t[0])],
        [c for c in constraints if is_constraint(c[0])],
    )


def run_suite(path: Path, selected: re.Pattern[str] | None = None) -> Iterator[CaseResult]:
    suite_name = str(path)
    docs = yaml_documents(path)
    suites = [d for d in docs if is_suite(d)]
    if not suites:
        yield CaseResult(suite_name, "", "", error="not a Suite (kind: Suite, test.gatekeeper.sh)")
        return
    base = path.parent
    for suite in suites:
        suite_skip = bool(suite.get("skip"))
        for test in suite.get("tests") or []:
            tname = str(test.get("name") or "")
            cases = [c for c in test.get("cases") or [] if isinstance(c, dict)]
            wanted = [
                c
                for c in cases
                if selected is None or selected.search(f"{tname}/{c.get('name') or ''}")
            ]
            if not wanted:
                continue
            if suite_skip or test.get("skip"):
                for c in wanted:
                    yield CaseResult(suite_name, tname, str(c.get("name")), skipped=True)
                continue
            try:
                library = _load_test(base, test)
                if not library.constraints:
                    raise PolicyError(f"{test.get('constraint')}: no constraint")
            except (PolicyError, KeyError) as e:
                for c in wanted:
                    cname = str(c.get("name"))
                    if c.get("skip"):
                        yield CaseResult(suite_name, tname, cname, skipped=True)
                    else:
                        yield CaseResult(suite_name, tname, cname, error=short(e, 500))
                continue
            for case in wanted:
                yield _run_case(suite_name, tname, base, library, case)


def _run_case(
    suite: str, test: str, base: Path, library: Library, case: Mapping[str, Any]
) -> CaseResult:
    name = str(case.get("name") or "")
    if case.get("skip"):
        return CaseResult(suite, test, name, skipped=True)
    start = time.perf_counter()
    try:
        objects = _objects(base / str(case["object"]))
        if len(objects) != 1:
            raise PolicyError(f"{case['object']}: want exactly one object, found {len(objects)}")
        inventory = [o for p in case.get("inventory") or [] for o in _objects(base / str(p))]
        messages = review_messages(library, objects[0], inventory)
        errors = [e for a in case.get("assertions") or [] if (e := check_assertion(a, messages))]
        error = "; ".join(errors) if errors else None
    except (PolicyError, KeyError) as e:
        error = short(e, 500)
    return CaseResult(suite, test, name, error=error, seconds=time.perf_counter() - start)


def run_suites(paths: Sequence[Path], selected: re.Pattern[str] | None = None) -> SuiteRun:
    run = SuiteRun()
    for path in find_suites(paths):
        run.results.extend(run_suite(path, selected))
    return run
