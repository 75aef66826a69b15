"""Evidence validation: clear errors for malformed documents, every section optional."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhooks.errors import BadRequestError
from webhooks.verdict.load import load_evidence

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
