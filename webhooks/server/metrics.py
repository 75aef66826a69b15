"""The webhook's Prometheus metrics, correct whether one process serves or many.

Under gunicorn every worker is a separate process; a counter kept in one worker's memory would
show only that worker's share on whichever worker answered the scrape. prometheus_client's
multi-process mode has each process write its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
and merges them at scrape time. That variable must be set before prometheus_client is first
imported (``webhooks.server.gunicorn_app`` does it), and the master calls
``mark_process_dead`` when a worker exits. Tests and single-process use a private registry.
"""

from __future__ import annotations

import os
import time
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

DecisionLabel = Literal["allowed", "denied", "error"]
ErrorKind = Literal["bad_request", "policy", "ledger", "internal"]

# Admission answers are expected in single-digit milliseconds; the API server gives up at its
# timeoutSeconds (10 s by default, often set to 2-5 s).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The collectors the app records into, and the text a scrape returns."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        # Always a private registry: creating a second app in one process (tests) must not
        # collide in the global default registry. In multi-process mode the samples go to the
        # mmap files regardless of which registry the collectors sit in.
        self._registry = CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = multiprocess_dir
        if multiprocess_dir is not None and os.environ.get(MULTIPROC_ENV) != multiprocess_dir:
            raise RuntimeError(
                f"{MULTIPROC_ENV} must be set to {multiprocess_dir} before prometheus_client "
                "is imported"
            )
        r = self._registry
        self.requests = Counter(
            "truthgate_admission_requests",
            "AdmissionReviews answered, by decision (error = bad request or internal failure).",
            ["decision"],
            registry=r,
        )
        self.duration = Histogram(
            "truthgate_admission_duration_seconds",
            "Time from request received to AdmissionReview answered, by decision.",
            ["decision"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.policy_eval = Histogram(
            "truthgate_policy_eval_seconds",
            "Time spent evaluating Rego policies for one review.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ledger_write = Histogram(
            "truthgate_ledger_write_seconds",
            "Time to durably append one intent to the ledger (commit included).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "truthgate_errors",
            "Failures by kind: bad_request, policy, ledger, internal.",
            ["kind"],
            registry=r,
        )
        self.ledger_timeouts = Counter(
            "truthgate_ledger_timeouts",
            "Ledger writes that missed their deadline (also counted as errors of kind ledger).",
            registry=r,
        )
        self.fail_open = Counter(
            "truthgate_fail_open",
            "Reviews allowed only because fail-open covered a policy or ledger failure.",
            registry=r,
        )
        # Zero-valued series from the start: a rate() over a never-seen label is empty, not 0.
        # The children are looked up once here, not on every review.
        self._answered = {
            d: (self.requests.labels(decision=d), self.duration.labels(decision=d))
            for d in ("allowed", "denied", "error")
        }
        self._errors = {
            k: self.errors.labels(kind=k) for k in ("bad_request", "policy", "ledger", "internal")
        }

    def after_fork(self) -> None:
        """Move this process's samples to its own files now, not on its first review (~10 ms).

        In multi-process mode the first write after a fork re-opens every metric's file for
        the new pid; a zero increment does exactly that and changes no value.
        """
        self.fail_open.inc(0)

    def answered(self, decision: DecisionLabel, seconds: float) -> None:
        count, duration = self._answered[decision]
        count.inc()
        duration.observe(seconds)

    def error(self, kind: ErrorKind) -> None:
        self._errors[kind].inc()

    def time_policy(self) -> _Timer:
        return _Timer(self.policy_eval)

    def time_ledger(self) -> _Timer:
        return _Timer(self.ledger_write)

    def render(self) -> bytes:
        """Prometheus text exposition: merged over every worker in multi-process mode."""
        if self._multiprocess_dir is None:
            return generate_latest(self._registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            merged, path=self._multiprocess_dir
        )
        return generate_latest(merged)


class _Timer:
    """Observes the time a ``with`` block took (a plain class: 4 µs less than a generator)."""

    __slots__ = ("_histogram", "_start")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        self._histogram.observe(time.perf_counter() - self._start)


def mark_process_dead(pid: int) -> None:
    """Called by the gunicorn master when a worker exits (drops its live-gauge files)."""
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
