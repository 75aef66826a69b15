"""Reading query_range answers: every shape Prometheus or a proxy in front of it may send."""

from __future__ import annotations

import json
import math
from typing import Any

from webhooks.baseline.response import parse_query_range


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def success(result: list[dict[str, Any]], result_type: str = "matrix") -> bytes:
    return body({"status": "success", "data": {"resultType": result_type, "result": result}})


def test_one_series_becomes_float_points() -> None:
    answer = parse_query_range(
        200, success([{"metric": {}, "values": [[1700000000, "0.25"], [1700000015.5, "3"]]}])
    )
    assert answer.error is None
    assert answer.points == [[1700000000.0, 0.25], [1700000015.5, 3.0]]


def test_nan_and_infinities_are_floats() -> None:
    answer = parse_query_range(
        200, success([{"metric": {}, "values": [[1, "NaN"], [2, "+Inf"], [3, "-Inf"]]}])
    )
    values = [v for _, v in answer.points]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf


def test_no_series_is_no_data_not_an_error() -> None:
    answer = parse_query_range(200, success([]))
    assert (answer.points, answer.error, answer.series_count) == ([], None, 0)


def test_several_series_ask_for_aggregation_and_name_a_few() -> None:
    result = [
        {"metric": {"__name__": "up", "job": "web", "pod": f"web-{i}"}, "values": []}
        for i in range(5)
    ]
    answer = parse_query_range(200, success(result))
    assert answer.points == []
    assert answer.series_count == 5
    assert answer.error == (
        'query returned 5 series (up{job="web",pod="web-0"}, up{job="web",pod="web-1"}, '
        'up{job="web",pod="web-2"}, …); aggregate it to one, e.g. sum(...) or sum by () (...)'
    )


def test_an_api_error_names_its_type_and_message() -> None:
    answer = parse_query_range(
        422,
        body(
            {
                "status": "error",
                "errorType": "execution",
                "error": "query processing would load too many samples",
            }
        ),
    )
    assert answer.error == (
        "Prometheus execution (HTTP 422): query processing would load too many samples"
    )


def test_a_long_upstream_message_is_cut() -> None:
    answer = parse_query_range(
        400, body({"status": "error", "errorType": "bad_data", "error": "x" * 5000})
    )
    assert answer.error is not None and len(answer.error) < 260


def test_a_non_json_answer_says_what_came_back() -> None:
    answer = parse_query_range(502, b"<html><body>Bad Gateway</body></html>")
    assert answer.error == (
        "HTTP 502 from Prometheus, not JSON: '<html><body>Bad Gateway</body></html>'"
    )


def test_an_instant_vector_is_not_a_range() -> None:
    answer = parse_query_range(200, success([], result_type="vector"))
    assert answer.error == "expected a range vector (matrix) from Prometheus, got 'vector'"


def test_a_malformed_point_is_an_error_not_a_crash() -> None:
    for values in ([[1]], [["x", "1"]], [[1, 2]], "nope"):
        answer = parse_query_range(200, success([{"metric": {}, "values": values}]))
        assert answer.points == []
        assert answer.error is not None


def test_a_json_document_that_is_not_an_object() -> None:
    assert parse_query_range(200, b"[1, 2]").error == "HTTP 200 from Prometheus: unexpected answer"
