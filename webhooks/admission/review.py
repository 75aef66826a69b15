"""The AdmissionReview ``admission.k8s.io/v1`` wire format: typed shapes, parsing, response.

The kube-apiserver sends one AdmissionReview per request and expects one back with the same
``uid``. Everything that comes in is checked here, once, so the rest of the admission code can
trust the shapes: a malformed review becomes a ``BadRequestError`` whose message says what was
wrong (the server answers it with HTTP 400). Only ``v1`` is served: ``v1beta1`` was removed from
Kubernetes in 1.22 and a webhook configuration should list ``admissionReviewVersions: ["v1"]``.

Every other document truthgate reads is checked against a JSON Schema (webhooks.common.schema);
this one is checked by hand because it is on the path of every review: the same fields as a
schema cost 20-45x this check with jsonschema (about 0.5 ms a review), several times decoding the body
(``python -m benchmarks.review_validation``; the table is in docs/webhook.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NotRequired, TypedDict, cast

from webhooks.common.schema import json_type
from webhooks.common.text import clip
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import GroupVersionKind, KubeObject, Operation

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"

MAX_DEPTH = 100  # deeper JSON is rejected before anything walks it recursively
MAX_WARNING_CHARS = 120  # Kubernetes asks warnings to stay within 120 characters
MAX_WARNINGS = 16
MAX_WARNINGS_TOTAL_CHARS = 2048  # well inside the apiserver's 4 KiB budget for warning headers

OPERATIONS: frozenset[str] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


class GroupVersionResource(TypedDict):
    group: str
    version: str
    resource: str


class UserInfo(TypedDict, total=False):
    username: str
    uid: str
    groups: list[str]
    extra: dict[str, list[str]]


class AdmissionRequest(TypedDict):
    """``request`` of an AdmissionReview as the apiserver sends it (optional keys may be absent)."""

    uid: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    operation: Operation
    userInfo: UserInfo
    subResource: NotRequired[str]
    requestKind: NotRequired[GroupVersionKind]
    requestResource: NotRequired[GroupVersionResource]
    requestSubResource: NotRequired[str]
    name: NotRequired[str]
    namespace: NotRequired[str]
    object: NotRequired[KubeObject | None]
    oldObject: NotRequired[KubeObject | None]
    dryRun: NotRequired[bool]
    options: NotRequired[dict[str, Any] | None]


class ResponseStatus(TypedDict, total=False):
    code: int
    message: str
    reason: str


class AdmissionResponse(TypedDict):
    uid: str
    allowed: bool
    status: NotRequired[ResponseStatus]
    warnings: NotRequired[list[str]]


class AdmissionReviewResponse(TypedDict):
    apiVersion: Literal["admission.k8s.io/v1"]
    kind: Literal["AdmissionReview"]
    response: AdmissionResponse


# ---------------------------------------------------------------------------------------------
# Input


_CONTAINERS = (dict, list)


def check_depth(doc: object, limit: int = MAX_DEPTH) -> None:
    """Reject JSON nested deeper than ``limit`` levels (iteratively: no recursion to exhaust).

    Level by level: each pass keeps only the containers of the next level, so scalars (most
    nodes) are looked at once and nothing else is allocated for them (4x the old walk).
    """
    level: list[Any] = [doc] if isinstance(doc, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise BadRequestError(
                f"AdmissionReview is nested deeper than {limit} levels: refusing to evaluate it"
            )
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, _CONTAINERS):
                    deeper.append(child)
        level = deeper


def _may_nest_deeper(body: bytes | str, limit: int) -> bool:
    """Whether the text could nest deeper than ``limit``: not with ``limit`` openers or fewer.

    Each level needs its own ``{`` or ``[``; brackets inside strings only raise the count, so
    the bound is safe. Counting is a C loop over the bytes, far cheaper than walking the
    parsed tree, and a typical review (a Deployment has about 100) rarely needs the walk.
    """
    if isinstance(body, str):
        return body.count("{") + body.count("[") > limit
    return body.count(b"{") + body.count(b"[") > limit


class _NotPlainJson(ValueError):
    """A number the policy engines cannot hold: NaN, ±Infinity, or one that overflows a double."""


MAX_INT_DIGITS = 308  # a longer integer is beyond a double, which is what the engines hold

# A surrogate escape (``\ud800``-``\udfff``); valid pairs decode to one code point, lone ones
# stay in the string and crash the embedded engine (and are not UTF-8 for the ledger).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _no_constant(name: str) -> Any:
    raise _NotPlainJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotPlainJson(f"number {short(text, 40)} is too large")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotPlainJson(f"integer of {len(text)} digits is too large")
    return int(text)


def _lone_surrogate(text: str, doc: object) -> bool:
    """Whether a decoded string (key or value) holds half of a surrogate pair.

    In UTF-8 text only a ``\\uD800``-``\\uDFFF`` escape can produce one, so the text is
    searched for that first (a C scan); the full check (encoding the document) runs only when
    one is present.
    """
    if _SURROGATE_ESCAPE.search(text) is None:
        return False
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _utf8(body: bytes | str) -> str:
    """The body as text: strict UTF-8 (RFC 8259), no surrogates however they are encoded."""
    try:
        if isinstance(body, str):
            body.encode("utf-8")  # a str may already hold a raw lone surrogate
            return body
        return body.decode("utf-8")
    except UnicodeError as e:
        raise BadRequestError(f"request body is not valid UTF-8: {short(e, 120)}") from e


def load_review(body: bytes | str, max_depth: int = MAX_DEPTH) -> AdmissionRequest:
    """Decode a request body (JSON), guard its depth, and parse it: the server's one call.

    Strict JSON only (RFC 8259): NaN and Infinity, numbers beyond a double (``1e400``) and
    text that is not Unicode (invalid UTF-8, a lone ``\\ud800``) are refused here, before any
    engine or the ledger sees them.
    """
    text = _utf8(body)
    try:
        doc = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError as e:
        raise BadRequestError(
            f"AdmissionReview is nested deeper than {max_depth} levels: refusing to evaluate it"
        ) from e
    except _NotPlainJson as e:
        raise BadRequestError(f"request body is not plain JSON: {e}") from e
    except ValueError as e:
        raise BadRequestError(f"request body is not JSON: {short(e, 120)}") from e
    if _may_nest_deeper(text, max_depth):
        check_depth(doc, max_depth)
    if _lone_surrogate(text, doc):
        raise BadRequestError(
            "request body is not valid Unicode: a string holds a lone surrogate (\\ud800-\\udfff)"
        )
    return parse_review(doc)


def _expect(value: object, kind: type, where: str, wanted: str) -> None:
    if not isinstance(value, kind):
        raise BadRequestError(f"{where} must be {wanted}, got {json_type(value)}")


def _gvk(value: object, where: str) -> None:
    _expect(value, dict, where, "an object {group, version, kind}")
    assert isinstance(value, dict)
    for key in ("group", "version", "kind"):
        _expect(value.get(key), str, f"{where}.{key}", "a string")


def _gvr(value: object, where: str) -> None:
    _expect(value, dict, where, "an object {group, version, resource}")
    assert isinstance(value, dict)
    for key in ("group", "version", "resource"):
        _expect(value.get(key), str, f"{where}.{key}", "a string")


def _user_info(value: object) -> None:
    _expect(value, dict, "request.userInfo", "an object")
    assert isinstance(value, dict)
    for key in ("username", "uid"):
        if key in value:
            _expect(value[key], str, f"request.userInfo.{key}", "a string")
    if "groups" in value and value["groups"] is not None:
        _expect(value["groups"], list, "request.userInfo.groups", "an array of strings")
        for i, group in enumerate(value["groups"]):
            _expect(group, str, f"request.userInfo.groups[{i}]", "a string")
    if "extra" in value and value["extra"] is not None:
        _expect(value["extra"], dict, "request.userInfo.extra", "an object")


def parse_review(doc: object) -> AdmissionRequest:
    """Check an AdmissionReview document and return its ``request``.

    Raises BadRequestError naming the first thing that is wrong. Optional fields the apiserver
    may leave out (``name`` on generateName creates, ``namespace`` for cluster-scoped kinds,
    ``object`` on DELETE, ``oldObject`` on CREATE) may be absent or null.
    """
    if not isinstance(doc, dict):
        raise BadRequestError(f"AdmissionReview must be a JSON object, got {json_type(doc)}")
    api_version = doc.get("apiVersion")
    if api_version != API_VERSION:
        sent = "no apiVersion" if api_version is None else f"apiVersion {short(api_version, 60)!r}"
        raise BadRequestError(
            f"{sent} sent; only {API_VERSION} is served "
            f'(set admissionReviewVersions: ["v1"] in the webhook configuration)'
        )
    if doc.get("kind") != KIND:
        raise BadRequestError(f"kind must be {KIND}, got {short(doc.get('kind'), 60)!r}")
    if "request" not in doc or doc["request"] is None:
        raise BadRequestError("AdmissionReview has no request")
    request = doc["request"]
    _expect(request, dict, "request", "an object")
    assert isinstance(request, dict)
    uid = request.get("uid")
    if uid is None or uid == "":
        raise BadRequestError("request.uid is missing")
    _expect(uid, str, "request.uid", "a string")

    if "kind" not in request:
        raise BadRequestError("request.kind is missing")
    _gvk(request["kind"], "request.kind")
    if "resource" not in request:
        raise BadRequestError("request.resource is missing")
    _gvr(request["resource"], "request.resource")
    if request.get("requestKind") is not None:
        _gvk(request["requestKind"], "request.requestKind")
    if request.get("requestResource") is not None:
        _gvr(request["requestResource"], "request.requestResource")

    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise BadRequestError(
            f"request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, "
            f"got {short(operation, 40)!r}"
        )
    if "userInfo" not in request:
        raise BadRequestError("request.userInfo is missing")
    _user_info(request["userInfo"])

    for key in ("name", "namespace", "subResource", "requestSubResource"):
        if request.get(key) is not None:
            _expect(request[key], str, f"request.{key}", "a string")
    for key in ("object", "oldObject", "options"):
        if request.get(key) is not None:
            _expect(request[key], dict, f"request.{key}", "an object or null")
    if request.get("dryRun") is not None:
        _expect(request["dryRun"], bool, "request.dryRun", "a boolean")
    if operation in ("CREATE", "UPDATE") and not isinstance(request.get("object"), dict):
        raise BadRequestError(f"request.object is missing for a {operation} request")
    if operation == "DELETE" and not isinstance(request.get("oldObject"), dict):
        # The apiserver sends oldObject on DELETE since Kubernetes 1.15; without it there is
        # nothing to attribute or record.
        raise BadRequestError("request.oldObject is missing for a DELETE request")
    return cast(AdmissionRequest, request)


# ---------------------------------------------------------------------------------------------
# Output


def bound_warnings(warnings: Iterable[str]) -> list[str]:
    """Each warning printable, ≤120 chars; at most MAX_WARNINGS, total bounded; cuts are said."""
    items = [
        clip(w, MAX_WARNING_CHARS, one_line=True, ascii_mark=True)
        for w in warnings
        if w and w.strip()
    ]
    out: list[str] = []
    total = 0
    for i, warning in enumerate(items):
        room_for_note = i < len(items) - 1
        if len(out) >= MAX_WARNINGS - (1 if room_for_note else 0) or (
            total + len(warning) > MAX_WARNINGS_TOTAL_CHARS - (60 if room_for_note else 0)
        ):
            out.append(f"... and {len(items) - i} more warning(s) not shown")
            break
        out.append(warning)
        total += len(warning)
    return out


def response_review(
    uid: str,
    allowed: bool,
    *,
    message: str | None = None,
    code: int | None = None,
    warnings: Iterable[str] = (),
    reason: str | None = None,
) -> AdmissionReviewResponse:
    """The v1 AdmissionReview answering request ``uid``.

    A denial without a code gets 403 (what the apiserver would use). The message is made
    printable and bounded (the apiserver shows it verbatim to kubectl and Argo CD).
    """
    response: AdmissionResponse = {"uid": uid, "allowed": allowed}
    if message is not None or code is not None or reason is not None or not allowed:
        status: ResponseStatus = {}
        if code is not None or not allowed:
            status["code"] = code if code is not None else 403
        if message is not None:
            status["message"] = clip(message, 4096, one_line=True, ascii_mark=True)
        if reason is not None:
            status["reason"] = reason
        response["status"] = status
    bounded = bound_warnings(warnings)
    if bounded:
        response["warnings"] = bounded
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def request_object(request: Mapping[str, Any]) -> KubeObject:
    """The object the request is about: ``object``, or ``oldObject`` on DELETE; ``{}`` if none."""
    obj = request.get("object")
    if not isinstance(obj, dict):
        obj = request.get("oldObject")
    return obj if isinstance(obj, dict) else {}
