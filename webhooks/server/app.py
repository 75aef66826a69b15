"""The Flask app: a thin HTTP adapter around ``Admitter`` plus health, readiness and metrics.

Endpoints:
- ``POST /validate``  AdmissionReview admission.k8s.io/v1 in, AdmissionReview out.
- ``GET /healthz``    the process answers (liveness).
- ``GET /readyz``     policies are loaded and the ledger answers now (readiness), else 503.
- ``GET /metrics``    Prometheus text, merged across gunicorn workers.
- ``GET /api/v1/...`` the read API for Argo CD's proxy extension, when a token is configured
  (:mod:`webhooks.server.readapi`).

Every refusal is a 4xx with ``{"error": "..."}``; internals never leak as HTML error pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from webhooks.admission.config import AdmissionConfig
from webhooks.admission.decide import ParentLookup
from webhooks.common.argocd import control_plane_namespaces
from webhooks.errors import TruthgateError, short
from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyEngine
from webhooks.server.admit import Admitter, Answer
from webhooks.server.metrics import Metrics
from webhooks.server.readapi import read_api

log = logging.getLogger("truthgate.server")

MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server caps requests at 3 MiB; nothing real is larger
JSON_TYPES = frozenset({"application/json"})


def create_app(
    config: AdmissionConfig,
    engine: PolicyEngine,
    store: IntentStore,
    metrics: Metrics,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    read_token: str | None = None,
    parents: ParentLookup | None = None,
) -> Flask:
    app = Flask("truthgate")
    # Werkzeug refuses a larger Content-Length up front and stops a chunked body at the limit
    # (gunicorn marks its input as terminated, so the limit applies to streams too).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    admitter = Admitter(config, engine, store, metrics, clock, parents=parents)
    if read_token is not None:
        # Argo CD's namespace is where the service accounts its syncs arrive as live.
        control_plane = control_plane_namespaces(config.argocd_usernames)
        app.register_blueprint(read_api(store, read_token, control_plane))

    def send(answer: Answer) -> Response:
        response = jsonify(answer.body)
        response.status_code = answer.status
        return response

    @app.post("/validate")
    def validate() -> Response:
        if request.mimetype not in JSON_TYPES:
            sent = short(request.mimetype or "none", 80)
            return send(
                admitter.bad_request(f"content type must be application/json, got {sent!r}", 415)
            )
        body = _read_body()
        if body is None:
            return send(_too_large(admitter))
        return send(admitter.admit(body))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        try:
            policies = len(engine.policies())
        except Exception as e:
            return _unready(f"policies are not loaded: {short(e, 200)}")
        try:
            store.ping()
        except TruthgateError as e:
            return _unready(f"ledger is not answering: {short(e, 200)}")
        except Exception as e:
            log.exception("readiness check failed")
            return _unready(f"ledger is not answering: {type(e).__name__}")
        return jsonify({"ready": True, "policies": policies})

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.render(), mimetype=None, content_type=metrics.content_type)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        if isinstance(e, RequestEntityTooLarge):
            return send(_too_large(admitter))
        response = jsonify({"error": e.description or e.name})
        response.status_code = e.code or 400
        return response

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        # Reached only before a uid is known (Admitter answers everything after that).
        log.exception("unexpected error outside a review")
        metrics.error("internal")
        response = jsonify({"error": "internal error"})
        response.status_code = 500
        return response

    return app


def _read_body() -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY_BYTES.

    With a Content-Length, Werkzeug refuses an oversized body before reading it. A chunked
    body has no length: Werkzeug would silently stop at the limit (a truncated review is then
    "not JSON", a misleading 400), so it is read here from the raw stream, one byte past the
    limit at most, to tell "exactly at the limit" from "over it".
    """
    if request.content_length is not None:
        try:
            return request.get_data(cache=False)
        except RequestEntityTooLarge:
            return None
    stream = request.input_stream
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_BODY_BYTES:
        chunk = stream.read(min(64 * 1024, MAX_BODY_BYTES + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return None if total > MAX_BODY_BYTES else b"".join(chunks)


def _too_large(admitter: Admitter) -> Answer:
    return admitter.bad_request(
        f"request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB", 413
    )


def _unready(reason: str) -> Response:
    response = jsonify({"ready": False, "reason": reason})
    response.status_code = 503
    return response
