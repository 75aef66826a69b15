"""`truthgate replay` on hostile Evidence: one clear line and exit 2, never a traceback, and
never "Healthy" for data it could not read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.verdict.test_replay import replay
from webhooks.errors import BadRequestError
from webhooks.verdict.load import load_evidence

HEAD = '{"apiVersion": "truthgate.dev/v1alpha1", "kind": "Evidence", '


def metric(series: object, **extra: object) -> str:
    item = {
        "name": "error-rate",
        "direction": "increase-is-bad",
        "changeAt": "2026-11-27T10:00:00Z",
        "series": series,
        **extra,
    }
    return HEAD + '"metrics": [' + json.dumps(item) + "]}"


CASES = {
    "deep-recursion": (HEAD + '"objects": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
    "deep-but-parseable": (
        HEAD + '"truthCheck": ' + '{"a":' * 200 + "1" + "}" * 200 + "}",
        "nested deeper than 64 levels",
    ),
    "5000-digit-integer": (
        HEAD + '"objects": [{"kind": "Pod", "x": ' + "9" * 5000 + "}]}",
        "digits",
    ),
    "1e400": (metric([[1e300, 1.0]]).replace("1e+300", "1e400"), "out of range"),
    "nan": (metric([[1, 1]]).replace("[[1, 1]]", "[[1, NaN]]"), "NaN is not a JSON number"),
    "garbage-series": (metric([["yesterday", "lots"]]), "metrics[0].series[0] must be a [time"),
    "series-not-a-list": (metric("up and to the right"), "metrics[0].series must be an array"),
    "metric-without-direction": (
        HEAD + '"metrics": [{"name": "x", "changeAt": "2026-11-27T10:00:00Z", "series": []}]}',
        "metrics[0].direction",
    ),
    "metric-without-changeAt": (
        HEAD + '"metrics": [{"name": "x", "direction": "either", "series": []}]}',
        "metrics[0].changeAt",
    ),
    "objects-wrong-type": (HEAD + '"objects": {"kind": "Pod"}}', "objects must be an array"),
    "missing-kind": (HEAD + '"objects": [{"metadata": {}}]}', "objects[0] has no kind"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_evidence_is_one_clear_line(name: str, tmp_path: Path) -> None:
    text, message = CASES[name]
    path = tmp_path / "evidence.json"
    path.write_text(text)
    out = replay(str(path))
    assert out.returncode == 2, out.stdout[:300]
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("truthgate: error: ")
    assert len(out.stderr.strip().splitlines()) == 1
    assert message in out.stderr
    assert out.stdout == ""  # no verdict at all, certainly not "Healthy"


def test_a_deep_mapping_handed_in_process_is_refused_too() -> None:
    doc: dict[str, object] = {"apiVersion": "truthgate.dev/v1alpha1", "kind": "Evidence"}
    node: dict[str, object] = {}
    doc["truthCheck"] = node
    for _ in range(10_000):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    with pytest.raises(BadRequestError, match="nested deeper"):
        load_evidence(doc)


def test_a_clean_series_still_judges(tmp_path: Path) -> None:
    points = [[1764237600 + 60 * i, 0.01] for i in range(-30, 10)]
    path = tmp_path / "evidence.json"
    path.write_text(metric(points, critical=True, tolerance={"relative": 0.5}))
    out = replay(str(path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verdict"] in ("Healthy", "Degraded", "Progressing", "Unknown")
