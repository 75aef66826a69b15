"""The read API behind Argo CD's proxy extension: an application's intents and verifications.

Argo CD's API server authenticates the user, checks RBAC (``extensions, invoke, truthgate``)
and the user's access to the application named in ``Argocd-Application-Name``, then forwards
the request here with the header its ``extension.config`` adds: ``Truthgate-Proxy-Token``
carrying a shared secret (from ``argocd-secret``, and here from a Secret mounted as a file).
So this blueprint trusts exactly two things and checks both on every request:

* the shared secret (compared in constant time; 401 without it) — proof that the request came
  through the proxy and its checks;
* the application the proxy vouched for: a request for any other application's records is
  answered 403, whatever its path says.

Routes (the proxy strips its ``/extensions/truthgate`` prefix):
``GET /api/v1/apps/<app>/intents``, ``GET /api/v1/apps/<app>/verifications``,
``GET /api/v1/apps/<app>/verifications/<id>/evidence``; ``?limit=`` and ``?before=`` page,
``?truthCheck=<namespace>/<name>`` keeps one TruthCheck's verifications.
The logic lives in :mod:`webhooks.ledger.query`; this module only adapts it to HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Collection
from typing import Any

from flask import Blueprint, Response, jsonify, request

from webhooks.common.argocd import CONTROL_PLANE_NAMESPACE
from webhooks.errors import (
    BadRequestError,
    ForbiddenError,
    LedgerError,
    NotFoundError,
    TruthgateError,
    short,
)
from webhooks.ledger import query
from webhooks.ledger.store import IntentStore

log = logging.getLogger("truthgate.server")

TOKEN_HEADER = "Truthgate-Proxy-Token"  # noqa: S105 - a header name, not a secret
APP_HEADER = "Argocd-Application-Name"
MIN_TOKEN_CHARS = 16

_STATUS: list[tuple[type[TruthgateError], int]] = [
    (BadRequestError, 400),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (LedgerError, 503),
]


def read_api(
    store: IntentStore,
    token: str,
    control_plane: Collection[str] = frozenset({CONTROL_PLANE_NAMESPACE}),
) -> Blueprint:
    """The blueprint; ``token`` is the shared secret the proxy adds to every request;
    ``control_plane``: Argo CD's namespace(s), whose applications' intents are recorded under
    the bare application name."""
    if len(token) < MIN_TOKEN_CHARS:
        raise BadRequestError(
            f"the read API token must be at least {MIN_TOKEN_CHARS} characters long"
        )
    expected = hashlib.sha256(token.encode()).digest()
    api = Blueprint("read_api", __name__, url_prefix="/api/v1")

    @api.before_request
    def authenticate() -> Response | None:
        sent = request.headers.get(TOKEN_HEADER, "")
        # Digests of equal length: the comparison takes the same time whatever was sent.
        if not hmac.compare_digest(hashlib.sha256(sent.encode()).digest(), expected):
            return _error(401, f"missing or wrong {TOKEN_HEADER}: call through Argo CD's proxy")
        return None

    def answer(app: str, build: Callable[[query.AppName], dict[str, Any]]) -> Response:
        try:
            scope = query.parse_app_header(request.headers.get(APP_HEADER))
            query.check_scope(scope, app)
            body = build(scope)
        except TruthgateError as e:
            status = next((code for kind, code in _STATUS if isinstance(e, kind)), 500)
            if status >= 500:  # the detail (which ledger, which host) stays in our log
                log.warning("read API: %s", e)
                return _error(status, "the ledger is not answering; see truthgate's log")
            return _error(status, short(e, 300))
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    @api.get("/apps/<app>/intents")
    def intents(app: str) -> Response:
        return answer(
            app,
            lambda s: query.intents_page(
                store, s, *query.parse_paging(request.args), control_plane=control_plane
            ),
        )

    @api.get("/apps/<app>/verifications")
    def verifications(app: str) -> Response:
        return answer(
            app,
            lambda s: query.verifications_page(
                store,
                s,
                *query.parse_paging(request.args),
                truthcheck=query.parse_truthcheck(request.args),
            ),
        )

    @api.get("/apps/<app>/verifications/<int:key>/evidence")
    def evidence(app: str, key: int) -> Response:
        return answer(app, lambda s: query.verification_evidence(store, s, key))

    return api


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
