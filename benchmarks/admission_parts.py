"""Where a review's server CPU goes: each part of the admission path, measured in one process.

The same reviews and the same 33 policies as ``benchmarks/admission_bench.py`` (a ~9 KB Argo
CD-managed Deployment update, a ConfigMap and a Secret update, each with a fresh uid), the same
``Admitter`` the server runs, a SQLite ledger (WAL, synchronous=FULL) in a temporary directory
and the metrics in multi-process mode. Each part runs on its own over the same reviews; the
whole ``Admitter.admit`` runs last, and "the rest" is what it costs beyond the parts.

CPU is thread CPU time, except for the ledger append and the whole review: those are process
CPU time, so the committer thread's work (SQLite, the fsync's kernel time; not its wait) is
counted. Medians over ``--runs`` rounds of ``--reviews`` reviews.

What the floor does in process (``benchmarks/admission_floor.py``: ``json.loads`` of the body
and ``jsonify`` of the answer) is measured too, for comparison; gunicorn, TLS and Flask's
request handling are the floor's and truthgate's alike and are not in these numbers.

    .venv/bin/python -m benchmarks.admission_parts [--runs 5] [--reviews 300]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyMeta, PolicyOutcome

T = TypeVar("T")
KINDS = ("Deployment", "ConfigMap", "Secret")
PARSE = "parse: strict UTF-8 and JSON, depth guard, shape"
CONTEXT = "context: JSON Patch, app, actor"
REGO = "Rego: set_input, then every rule targeting the kind in one evaluation"
DECISION = "decision: outcomes, messages, intent"
LEDGER = "ledger append, committer included (CPU, not the fsync wait)"
ANSWER = "answer, log line, metrics"
SEQUENCE = "all of it in sequence: what the parts cost more together (caches)"
# Measured for the choices, not in the sum: feeding the engine alone, as a dict or as text.
SET_INPUT = "(of Rego) set_input of the dict alone"
SET_INPUT_JSON = "(not used) set_input_json of the same input as text"


def _bodies(review: Any, count: int) -> list[bytes]:
    from benchmarks.admission_bench import UID

    template = json.dumps(review, separators=(",", ":")).encode()
    return [template.replace(UID.encode(), str(uuid.uuid4()).encode()) for _ in range(count)]


def _cost(
    fn: Callable[[T], object], items: Sequence[T], clock: Callable[[], float] = time.thread_time
) -> float:
    """Milliseconds of CPU per item."""
    start = clock()
    for item in items:
        fn(item)
    return (clock() - start) * 1000 / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reviews", type=int, default=300, help="reviews per kind and run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="truthgate-parts-") as tmp_name:
        tmp = Path(tmp_name)
        # Before prometheus_client is imported, as `truthgate serve` does.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp)
        rows = _measure(tmp, args.runs, args.reviews)

    print(
        f"\nServer CPU of one review by part, in one process (medians of {args.runs} runs of "
        f"{args.reviews} reviews; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}):\n"
    )
    print(f"| part | {' | '.join(KINDS)} |")
    print(f"|---|{'---:|' * len(KINDS)}")
    for name in rows[KINDS[0]]:
        cells = " | ".join(f"{statistics.median(rows[k][name]):.3f} ms" for k in KINDS)
        print(f"| {name} | {cells} |")


def _measure(tmp: Path, runs: int, count: int) -> dict[str, dict[str, list[float]]]:
    from flask import Flask, jsonify

    from benchmarks.admission_bench import REVIEWS, ROOT
    from benchmarks.admission_policies import write_policy_dir
    from webhooks.admission.context import build_input
    from webhooks.admission.decide import decide
    from webhooks.admission.review import load_review
    from webhooks.cli.options import admission_settings
    from webhooks.ledger import open_store
    from webhooks.policy.regorus_engine import RegorusEngine
    from webhooks.server.admit import Admitter
    from webhooks.server.metrics import Metrics
    from webhooks.server.store import PerProcessStore

    write_policy_dir(tmp / "policies", ROOT / "policies" / "admission", extra=30)
    _, config = admission_settings(tmp / "policies", None, None)
    engine = RegorusEngine(tmp / "policies")
    store = PerProcessStore(
        lambda: open_store(str(tmp / "ledger.db"), retention_days=None, write_deadline_s=2.0)
    )
    metrics = Metrics(multiprocess_dir=str(tmp))
    admitter = Admitter(config, engine, store, metrics)
    # The same Admitter with nothing to evaluate and nothing to record: what is left of a
    # review is its parse, its decision, the answer, the log line and the metrics.
    silent = _Silent(engine)
    quiet = Admitter(config, silent, cast(IntentStore, _NoLedger()), metrics)
    log = tmp / "review.log"  # the log line is written, as to the server's stderr
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    floor = Flask("floor")
    now = datetime.now(UTC)
    rows: dict[str, dict[str, list[float]]] = {}

    for kind in KINDS:
        review = REVIEWS[kind]()
        for body in _bodies(review, 50):  # this thread's engine, the ledger connection, caches
            admitter.admit(body)
        # The kind's route and this thread's engine, to time the evaluation alone.
        route = engine._set.plan(kind).route
        rego = engine._thread_engine(engine._set)
        parts = rows.setdefault(kind, {})

        def add(name: str, ms: float, parts: dict[str, list[float]] = parts) -> None:
            parts.setdefault(name, []).append(ms)

        for _ in range(runs):
            bodies = _bodies(review, count)
            texts = [b.decode() for b in bodies]
            add("floor's own work: json.loads + jsonify", _floor(floor, texts, jsonify))
            requests = [load_review(b) for b in bodies]
            inputs = [build_input(r, config) for r in requests]
            add(PARSE, _cost(load_review, bodies))
            add(CONTEXT, _cost(lambda r: build_input(r, config), requests))
            add(SET_INPUT, _cost(rego.set_input, inputs))
            add(SET_INPUT_JSON, _cost(rego.set_input_json, [json.dumps(i) for i in inputs]))
            if route:
                add(REGO, _cost(partial(_evaluate, rego, route), inputs))
            decided = [decide(r, engine, config, now) for r in requests]
            whole_decide = _cost(lambda r: decide(r, engine, config, now), requests)
            add(DECISION, max(0.0, whole_decide - _last(parts, CONTEXT, REGO)))
            drafts = [dict(d.intent) for d in decided if d.intent is not None]
            add(LEDGER, _cost(store.append, drafts, time.process_time))
            bare = _cost(quiet.admit, _bodies(review, count))
            bare_decide = _cost(lambda r: decide(r, silent, config, now), requests)
            add(ANSWER, max(0.0, bare - _last(parts, PARSE) - bare_decide))
            whole = _cost(admitter.admit, _bodies(review, count), time.process_time)
            summed = _last(parts, PARSE, CONTEXT, REGO, DECISION, LEDGER, ANSWER)
            add(SEQUENCE, max(0.0, whole - summed))
            add("whole review (Admitter.admit)", whole)
    logging.getLogger().removeHandler(handler)
    handler.close()
    store.close()
    return rows


def _evaluate(engine: Any, route: str, input_doc: Any) -> object:
    """What ``RegorusEngine.evaluate`` asks of regorus for one review."""
    engine.set_input(input_doc)
    return engine.eval_rule_as_json(route)


def _last(parts: dict[str, list[float]], *names: str) -> float:
    """The sum of this run's measurements of ``names`` (those measured)."""
    return sum(parts[name][-1] for name in names if name in parts)


class _Silent:
    """The engine's policies for a kind, all with nothing to say, at no cost."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def policies(self) -> Sequence[PolicyMeta]:
        return list(self._engine.policies())

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        return list(self._engine._set.plan(kind).silent)  # what the engine answers then

    def reload(self) -> None:
        """Nothing to reload."""


class _NoLedger:
    """Records nothing (the ledger is measured on its own)."""

    def append(self, draft: dict[str, Any]) -> dict[str, Any]:
        return draft


def _floor(app: Any, texts: Sequence[str], jsonify: Callable[..., Any]) -> float:
    def answer(text: str) -> None:
        review = json.loads(text)
        jsonify(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": True},
            }
        )

    with app.app_context():
        return _cost(answer, texts)


if __name__ == "__main__":
    main()
