"""Turn a Prometheus ``query_range`` answer into one series of points, or a readable reason.

Pure: it sees the HTTP status and the decoded body, never the network. Kept apart from the
collector so every shape Prometheus (or a proxy in front of it) can answer is tested with plain
data.

One query, one series. A query that returns several series (``rate(x[1m])`` without ``sum``, or a
label such as ``pod`` that changes with the rollout) cannot be compared with a baseline without
guessing how to combine them, so it is an error that tells the user to aggregate. That keeps the
TruthCheck's metric name the name of exactly one line on a graph.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from webhooks.errors import short

Points = list[list[float]]

_EXAMPLE_SERIES_SHOWN = 3


@dataclass(frozen=True)
class QueryAnswer:
    """Either ``points`` (possibly empty: no data in the range) or an ``error``."""

    points: Points
    error: str | None = None
    series_count: int = 1


def parse_query_range(status: int, body: bytes) -> QueryAnswer:
    """Read an ``/api/v1/query_range`` answer (any HTTP status) into points or an error."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return QueryAnswer([], f"HTTP {status} from Prometheus, not JSON: {short(text, 160)!r}")
    if not isinstance(doc, dict):
        return QueryAnswer([], f"HTTP {status} from Prometheus: unexpected answer")
    if doc.get("status") != "success":
        kind = doc.get("errorType") or "error"
        message = doc.get("error") or "no message"
        return QueryAnswer([], f"Prometheus {kind} (HTTP {status}): {short(message, 200)}")
    data = doc.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        got = data.get("resultType") if isinstance(data, dict) else None
        return QueryAnswer([], f"expected a range vector (matrix) from Prometheus, got {got!r}")
    result = data.get("result")
    if not isinstance(result, list):
        return QueryAnswer([], "Prometheus answered a matrix without a result list")
    if len(result) > 1:
        labels = ", ".join(
            _labels(item) for item in result[:_EXAMPLE_SERIES_SHOWN] if isinstance(item, dict)
        )
        more = ", …" if len(result) > _EXAMPLE_SERIES_SHOWN else ""
        return QueryAnswer(
            [],
            f"query returned {len(result)} series ({short(labels + more, 160)}); "
            "aggregate it to one, e.g. sum(...) or sum by () (...)",
            series_count=len(result),
        )
    if not result:
        return QueryAnswer([], None, series_count=0)
    values = result[0].get("values") if isinstance(result[0], dict) else None
    if not isinstance(values, list):
        return QueryAnswer([], "Prometheus answered a series without values")
    try:
        return QueryAnswer([_point(v) for v in values])
    except (TypeError, ValueError, IndexError):
        return QueryAnswer([], 'Prometheus answered a point that is not [time, "value"]')


def _point(raw: Any) -> list[float]:
    stamp, value = raw
    # Prometheus sends values as strings: "1.5", "NaN", "+Inf", "-Inf"; float() reads them all.
    number = float(value)
    if not isinstance(value, str) or not isinstance(stamp, int | float) or math.isnan(stamp):
        raise ValueError("malformed point")
    return [float(stamp), number]


def _labels(item: dict[str, Any]) -> str:
    metric = item.get("metric")
    if not isinstance(metric, dict) or not metric:
        return "{}"
    pairs = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return str(metric.get("__name__", "")) + "{" + pairs + "}"
