"""One AdmissionReview body in, one HTTP answer out: the webhook's flow without Flask.

parse (size and depth already bounded) → ``decide`` (pure; policy errors already turned into
a decision under the failure mode) → append the intent draft to the ledger BEFORE answering →
the v1 response. Everything that can go wrong after the uid is known still yields a well-formed
AdmissionReview, shaped by the configured failure mode, never an HTTP 500: the API server would
otherwise apply the webhook's own ``failurePolicy`` with an opaque error.

The structured log line per review carries who/what/decision/time and never object contents.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webhooks.admission.config import AdmissionConfig, FailureMode
from webhooks.admission.decide import Decision, ParentLookup, decide
from webhooks.admission.review import (
    AdmissionRequest,
    AdmissionReviewResponse,
    load_review,
    response_review,
)
from webhooks.errors import BadRequestError, LedgerTimeoutError, TruthgateError, short
from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyEngine, PolicyMeta, PolicyOutcome
from webhooks.server.metrics import DecisionLabel, Metrics

log = logging.getLogger("truthgate.admission")

NOT_RECORDED = "truthgate: intent not recorded: the ledger is unavailable"
INTERNAL = "truthgate: internal error while reviewing this request"


@dataclass(frozen=True)
class Answer:
    status: int  # HTTP status
    body: Mapping[str, Any]  # an AdmissionReview, or {"error": "..."} for a bad request
    label: DecisionLabel


class _TimedEngine:
    """The injected engine, with evaluation time observed (decide itself stays pure)."""

    def __init__(self, engine: PolicyEngine, metrics: Metrics) -> None:
        self._engine = engine
        self._metrics = metrics

    def policies(self) -> Sequence[PolicyMeta]:
        return self._engine.policies()

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        with self._metrics.time_policy():
            return self._engine.evaluate(kind, input_doc)

    def reload(self) -> None:
        self._engine.reload()


class Admitter:
    def __init__(
        self,
        config: AdmissionConfig,
        engine: PolicyEngine,
        store: IntentStore,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        parents: ParentLookup | None = None,
    ) -> None:
        self._parents = parents  # reads the workload of a scale subresource request
        self._config = config
        self._engine = _TimedEngine(engine, metrics)
        self._store = store
        self._metrics = metrics
        self._clock = clock

    def admit(self, body: bytes) -> Answer:
        started = time.perf_counter()
        try:
            request = load_review(body)
        except BadRequestError as e:
            return self._bad_request(str(e), started)
        except Exception:  # the parser must never take the worker down; keep the reason
            log.exception("could not parse an AdmissionReview")
            return self._bad_request("request body is not a usable AdmissionReview", started)
        fields = _log_fields(request)
        try:
            review, label = self._review(request, fields)
        except Exception as e:
            # A bug, not a policy or ledger failure: still answer the API server properly.
            self._metrics.error("internal")
            _log_traceback(e, request)
            review, label = self._internal_error(request["uid"]), "error"
        ms = (time.perf_counter() - started) * 1000
        self._metrics.answered(label, ms / 1000)
        fields.update(decision=label, ms=round(ms, 2))
        log.info("review %s", json.dumps(fields, separators=(",", ":")))
        return Answer(200, review, label)

    def _review(
        self, request: AdmissionRequest, fields: dict[str, Any]
    ) -> tuple[AdmissionReviewResponse, DecisionLabel]:
        decision = decide(request, self._engine, self._config, self._clock(), parents=self._parents)
        secret = request["kind"]["kind"] == "Secret"
        fields["app"] = decision.context["app"] if decision.context else None
        # Counted once per review, however many failures fail-open covered in it.
        covered = False
        if decision.policy_error is not None:
            self._metrics.error("policy")
            # Engine errors may quote the input; for a Secret that could be its data.
            fields["policyError"] = "withheld (Secret)" if secret else decision.policy_error
            covered = decision.failure_mode == "fail-open"
        review = decision.review()
        if decision.intent is not None:
            try:
                with self._metrics.time_ledger():
                    self._store.append(dict(decision.intent))
                fields["recorded"] = True
            except TruthgateError as e:
                self._metrics.error("ledger")
                if isinstance(e, LedgerTimeoutError):
                    self._metrics.ledger_timeouts.inc()
                fields["recorded"] = False
                fields["ledgerError"] = short(e, 200)
                review = self._ledger_failure(decision)
                covered = covered or (decision.allowed and self._config.failure_mode == "fail-open")
        if not decision.allowed and not secret:
            fields["message"] = short(decision.message or "", 300)
        allowed = review["response"]["allowed"]
        if covered and allowed:
            self._metrics.fail_open.inc()
        label: DecisionLabel = "allowed" if allowed else "denied"
        return review, label

    def _ledger_failure(self, decision: Decision) -> AdmissionReviewResponse:
        mode: FailureMode = self._config.failure_mode
        if not decision.allowed:
            # Denied either way: say so, and that it left no record.
            return response_review(
                decision.uid,
                False,
                message=decision.message,
                code=decision.code,
                warnings=[*decision.warnings, NOT_RECORDED],
            )
        if mode == "fail-open":
            return response_review(
                decision.uid, True, warnings=[*decision.warnings, f"{NOT_RECORDED} (fail-open)"]
            )
        return response_review(
            decision.uid,
            False,
            code=503,
            reason="ServiceUnavailable",
            message=(
                "truthgate: denied (fail-closed): the intent ledger is unavailable, so this "
                "change cannot be recorded; retry once the ledger is back"
            ),
            warnings=decision.warnings,
        )

    def _internal_error(self, uid: str) -> AdmissionReviewResponse:
        if self._config.failure_mode == "fail-open":
            self._metrics.fail_open.inc()
            return response_review(uid, True, warnings=[f"{INTERNAL}; admitted (fail-open)"])
        return response_review(
            uid,
            False,
            code=500,
            reason="InternalError",
            message=f"{INTERNAL}; denied (fail-closed). See the webhook log for uid {uid}",
        )

    def _bad_request(self, reason: str, started: float) -> Answer:
        return self.bad_request(reason, 400, time.perf_counter() - started)

    def bad_request(self, reason: str, status: int, seconds: float = 0.0) -> Answer:
        """A refused request (also before its body is read: type, size), counted as an error."""
        self._metrics.error("bad_request")
        self._metrics.answered("error", seconds)
        log.warning("bad request (%d): %s", status, reason)
        return Answer(status, {"error": reason}, "error")


def _log_fields(request: AdmissionRequest) -> dict[str, Any]:
    kind = request["kind"]
    return {
        "uid": request["uid"],
        "kind": f"{kind['group']}/{kind['version']}/{kind['kind']}".lstrip("/"),
        "namespace": request.get("namespace"),
        "name": request.get("name"),
        "op": request["operation"],
        "user": request["userInfo"].get("username"),
        "dryRun": bool(request.get("dryRun", False)),
    }


def _log_traceback(e: BaseException, request: AdmissionRequest) -> None:
    """Frames and exception type always; the exception text only when it cannot hold a Secret."""
    frames = "".join(traceback.format_tb(e.__traceback__))
    if request["kind"]["kind"] == "Secret":
        detail = f"{type(e).__name__} (message withheld: the object is a Secret)"
    else:
        detail = f"{type(e).__name__}: {short(e, 500)}"
    log.error(
        "internal error reviewing uid=%s kind=%s: %s\nTraceback:\n%s",
        request["uid"],
        request["kind"]["kind"],
        detail,
        frames,
    )
