"""Evidence validation: clear errors for malformed documents, every section optional."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from webhooks.errors import BadRequestError
from webhooks.verdict.load import dumps_evidence, load_evidence

HEAD = {"apiVersion": "truthgate.dev/v1alpha1", "kind": "Evidence"}


def doc(**sections: Any) -> str:
    return json.dumps({**HEAD, **sections})


def test_minimal_document_loads_and_null_sections_count_as_absent() -> None:
    ev = load_evidence(doc(intents=None, objects=[], application=None))
    assert "intents" not in ev and "application" not in ev and ev["objects"] == []


def test_bytes_and_mappings_are_accepted() -> None:
    assert load_evidence(doc().encode())["kind"] == "Evidence"
    assert load_evidence(dict(HEAD))["kind"] == "Evidence"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "not valid JSON"),
        ("42", "must be a JSON object, got a number"),
        (json.dumps({"kind": "Evidence"}), "apiVersion is missing, want 'truthgate.dev/v1alpha1'"),
        (json.dumps({**HEAD, "kind": "Verdict"}), "kind is 'Verdict', want 'Evidence'"),
        (doc(collectedAt="last tuesday"), "collectedAt 'last tuesday' is not an RFC 3339 time"),
        (doc(application=[]), "application must be an object, got an array"),
        (doc(probes=[{"name": "x", "ok": "yes"}]), "probes[0].ok must be a boolean"),
        (doc(objects=[{"metadata": {}}]), "objects[0] has no kind"),
        (doc(objects=[{"kind": "Pod", "metadata": "x"}]), "objects[0].metadata must be an object"),
        (doc(objects=["Pod"]), "objects[0] must be an object, got a string"),
        (doc(metrics=[{"name": "m", "series": {}}]), "metrics[0].series must be an array"),
        (doc(intents=[{"kind": "Deployment"}]), "intents[0].kind must be an object"),
    ],
)
def test_malformed_evidence_names_the_field(raw: str | bytes, message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        load_evidence(raw)
    assert message in str(caught.value)


def _metric(series: list[list[Any]]) -> dict[str, Any]:
    return {
        "name": "m",
        "direction": "either",
        "changeAt": "2026-11-27T10:00:00Z",
        "series": series,
    }


def test_metric_values_as_prometheus_writes_them_are_read_as_numbers() -> None:
    pasted: list[list[Any]] = [
        [1796000000, "0.011"],
        [1796000060, "NaN"],
        [1796000120, "+Inf"],
        [1796000180, 2],
    ]
    ev = load_evidence(doc(metrics=[_metric(pasted)]))
    values = [v for _, v in ev["metrics"][0]["series"]]
    assert values[0] == 0.011 and math.isnan(values[1]) and values[2] == math.inf
    assert values[3] == 2
    with pytest.raises(BadRequestError, match=r"series\[0\] must be a \[time, value\] pair"):
        load_evidence(doc(metrics=[_metric([[1796000000, "lots"]])]))


def test_what_verify_saves_replay_reads_even_where_json_has_no_number() -> None:
    collected: Any = {**HEAD, "metrics": [_metric([[1796000000, math.nan], [1796000060, 0.5]])]}
    text = dumps_evidence(collected)
    assert '"NaN"' in text and "NaN," not in text.replace('"NaN"', "")
    series = load_evidence(text)["metrics"][0]["series"]
    assert math.isnan(series[0][1]) and series[1] == [1796000060, 0.5]
    assert math.isnan(collected["metrics"][0]["series"][0][1])  # the caller's copy is untouched
