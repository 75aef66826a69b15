"""Parsing AdmissionReviews and building the answer the apiserver expects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.admission.reviews import deployment, review
from webhooks.admission.review import (
    MAX_WARNING_CHARS,
    check_depth,
    load_review,
    parse_review,
    response_review,
)
from webhooks.errors import BadRequestError


def good() -> dict[str, Any]:
    return review("UPDATE", deployment(), deployment())


def test_a_v1_review_parses_to_its_request() -> None:
    doc = good()
    request = parse_review(doc)
    assert request["uid"] == doc["request"]["uid"]
    assert request["operation"] == "UPDATE"
    assert request["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = good()
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([1, 2], "must be a JSON object, got array"),
        ("review", "must be a JSON object, got string"),
        (
            _with("apiVersion", "admission.k8s.io/v1beta1"),
            "'admission.k8s.io/v1beta1' sent; only admission.k8s.io/v1 is served",
        ),
        (_with("apiVersion", _DELETE), "no apiVersion sent; only admission.k8s.io/v1 is served"),
        (_with("kind", "ConversionReview"), "kind must be AdmissionReview, got 'ConversionReview'"),
        (_with("request", _DELETE), "has no request"),
        (_with("request", None), "has no request"),
        (_with("request", "x"), "request must be an object, got string"),
        (_with("request.uid", _DELETE), "request.uid is missing"),
        (_with("request.uid", ""), "request.uid is missing"),
        (_with("request.uid", 42), "request.uid must be a string, got number"),
        (_with("request.kind", _DELETE), "request.kind is missing"),
        (_with("request.kind", "Deployment"), "request.kind must be an object"),
        (_with("request.kind.kind", None), "request.kind.kind must be a string, got null"),
        (_with("request.resource", _DELETE), "request.resource is missing"),
        (
            _with("request.operation", "PATCH"),
            "request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got 'PATCH'",
        ),
        (_with("request.userInfo", _DELETE), "request.userInfo is missing"),
        (
            _with("request.userInfo.username", ["alice"]),
            "request.userInfo.username must be a string, got array",
        ),
        (
            _with("request.userInfo.groups", "dev"),
            "request.userInfo.groups must be an array of strings, got string",
        ),
        (
            _with("request.userInfo.groups", ["dev", 3]),
            "request.userInfo.groups[1] must be a string, got number",
        ),
        (_with("request.namespace", 7), "request.namespace must be a string, got number"),
        (_with("request.object", [1]), "request.object must be an object or null, got array"),
        (_with("request.object", None), "request.object is missing for a UPDATE request"),
        (_with("request.dryRun", "yes"), "request.dryRun must be a boolean, got string"),
    ],
)
def test_malformed_reviews_are_rejected_with_a_clear_message(doc: object, expected: str) -> None:
    with pytest.raises(BadRequestError) as err:
        parse_review(doc)
    assert expected in str(err.value)


def test_a_delete_without_old_object_is_rejected() -> None:
    doc = review("DELETE", None, deployment())
    doc["request"]["oldObject"] = None
    with pytest.raises(BadRequestError, match="oldObject is missing for a DELETE"):
        parse_review(doc)


def test_optional_fields_may_be_absent() -> None:
    doc = review("CREATE", deployment())
    for key in ("name", "namespace", "oldObject", "dryRun", "options", "requestKind"):
        del doc["request"][key]
    assert parse_review(doc)["operation"] == "CREATE"


def test_load_review_rejects_non_json_and_deep_nesting() -> None:
    with pytest.raises(BadRequestError, match="not JSON"):
        load_review(b"{nope")
    deep: Any = "leaf"
    for _ in range(150):
        deep = {"x": deep}
    doc = good()
    doc["request"]["object"]["spec"]["deep"] = deep
    with pytest.raises(BadRequestError, match="nested deeper than 100 levels"):
        load_review(json.dumps(doc))
    # Deeper than Python's own JSON recursion limit: still a clean 400, not a crash.
    with pytest.raises(BadRequestError, match="nested deeper"):
        load_review("[" * 100_000 + "]" * 100_000)


POISON = {
    "lone high surrogate": ('"web"', '"\\ud800"', "lone surrogate"),
    "lone low surrogate in a key": ('"web"', '{"\\uDC00": 1}', "lone surrogate"),
    "NaN": ('"web"', "NaN", "NaN is not a JSON number"),
    "Infinity": ('"web"', "-Infinity", "-Infinity is not a JSON number"),
    "1e400": ('"web"', "1e400", "1e400 is too large"),
    "a 400-digit integer": ('"web"', "9" * 400, "too large"),
}


@pytest.mark.parametrize("case", sorted(POISON))
def test_input_no_engine_can_hold_is_refused_before_evaluation(case: str) -> None:
    target, replacement, reason = POISON[case]
    text = json.dumps(good())
    assert target in text
    with pytest.raises(BadRequestError, match=reason):
        load_review(text.replace(target, replacement, 1).encode())


def test_invalid_utf8_and_raw_surrogates_are_refused() -> None:
    text = json.dumps(good())
    cesu_surrogate = text.encode().replace(b'"web"', b'"\xed\xa0\x80"', 1)
    with pytest.raises(BadRequestError, match="not valid UTF-8"):
        load_review(cesu_surrogate)
    with pytest.raises(BadRequestError, match="not valid UTF-8"):
        load_review(text.replace('"web"', '"\ud800"', 1))


def test_escaped_surrogate_pairs_and_big_but_finite_numbers_are_fine() -> None:
    text = json.dumps(good()).replace('"web"', '"\\ud83d\\ude00"', 1)
    assert '"replicas": 2' in text
    text = text.replace('"replicas": 2', '"replicas": 1e300', 1)
    request = load_review(text.encode())
    assert "\U0001f600" in json.dumps(request, ensure_ascii=False)
    obj = request.get("object")
    assert obj is not None and obj["spec"]["replicas"] == 1e300


def test_depth_guard_accepts_realistic_objects_and_rejects_at_the_limit() -> None:
    check_depth(good())
    nested: Any = 1
    for _ in range(100):
        nested = [nested]
    check_depth(nested)  # 100 container levels: allowed
    with pytest.raises(BadRequestError):
        check_depth([nested])


def test_allowed_response_echoes_uid_without_status() -> None:
    answer = response_review("u-1", True)
    assert answer == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u-1", "allowed": True},
    }


def test_denied_response_carries_403_and_the_message() -> None:
    answer = response_review("u-1", False, message="Deployment shop/web is managed by Argo CD")
    assert answer["response"]["status"] == {
        "code": 403,
        "message": "Deployment shop/web is managed by Argo CD",
    }


def test_warnings_are_printable_bounded_and_cuts_are_announced() -> None:
    long = "x" * 500
    answer = response_review(
        "u", True, warnings=["line\nbreak\tand\x07bell", long, "", *["w"] * 40]
    )
    warnings = answer["response"]["warnings"]
    assert warnings[0] == "line break and bell"
    assert all(len(w) <= MAX_WARNING_CHARS and w.isprintable() for w in warnings)
    assert warnings[1].endswith("...")
    assert len(warnings) <= 16
    assert warnings[-1].endswith("more warning(s) not shown")
    assert sum(len(w) for w in warnings) <= 2048


def test_parsing_does_not_modify_the_document() -> None:
    doc = good()
    before = copy.deepcopy(doc)
    parse_review(doc)
    assert doc == before
