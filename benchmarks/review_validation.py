"""What checking an AdmissionReview's shape costs per review: the shipped check against a schema.

Every other document truthgate reads (the TruthCheck spec, Evidence, the enforcement file) is
checked against a JSON Schema with jsonschema. The AdmissionReview is on the path of every
review, so its check was measured before choosing. Rows, all in this run on the same ~3 KB
Deployment UPDATE review:

- json.loads: decoding the body, which every review pays anyway (reference)
- shipped: ``webhooks.admission.review.parse_review``, the hand-written check (baseline)
- jsonschema first error: the fields truthgate reads as a Draft 2020-12 schema (``SCHEMA``
  below), the validator compiled once, ``iter_errors`` stopped at the first error (what the
  other documents do)
- jsonschema is_valid: the same validator's yes/no answer

Run: .venv/bin/python -m benchmarks.review_validation [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jsonschema

from tests.admission.reviews import deployment, review
from webhooks.admission.review import parse_review

_GVK = {
    "required": ["group", "version", "kind"],
    "properties": {k: {"type": "string"} for k in ("group", "version", "kind")},
}
_GVR = {
    "required": ["group", "version", "resource"],
    "properties": {k: {"type": "string"} for k in ("group", "version", "resource")},
}
#: What parse_review checks, as a schema (the cross-field rules left out, so it does less).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "request"],
    "properties": {
        "apiVersion": {"const": "admission.k8s.io/v1"},
        "kind": {"const": "AdmissionReview"},
        "request": {
            "type": "object",
            "required": ["uid", "kind", "resource", "operation", "userInfo"],
            "properties": {
                "uid": {"type": "string", "minLength": 1},
                "kind": {"type": "object", **_GVK},
                "resource": {"type": "object", **_GVR},
                "requestKind": {"type": ["object", "null"], **_GVK},
                "requestResource": {"type": ["object", "null"], **_GVR},
                "operation": {"enum": ["CREATE", "UPDATE", "DELETE", "CONNECT"]},
                "userInfo": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string"},
                        "uid": {"type": "string"},
                        "groups": {"type": ["array", "null"], "items": {"type": "string"}},
                        "extra": {"type": ["object", "null"]},
                    },
                },
                **{
                    k: {"type": ["string", "null"]}
                    for k in ("name", "namespace", "subResource", "requestSubResource")
                },
                **{k: {"type": ["object", "null"]} for k in ("object", "oldObject", "options")},
                "dryRun": {"type": ["boolean", "null"]},
            },
        },
    },
}


def per_call_us(fn: Callable[[], object], runs: int) -> float:
    """Median over 7 repeats of the mean time of ``runs`` calls, in microseconds."""
    fn()
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        samples.append((time.perf_counter() - start) / runs * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="calls per repeat")
    args = parser.parse_args()

    doc = review("UPDATE", deployment(), deployment())
    body = json.dumps(doc).encode()
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert validator.is_valid(doc) and parse_review(doc)

    rows = [
        ("json.loads of the body (reference)", lambda: json.loads(body)),
        ("shipped parse_review (baseline)", lambda: parse_review(doc)),
        ("jsonschema, first error", lambda: next(validator.iter_errors(doc), None)),
        ("jsonschema, is_valid", lambda: validator.is_valid(doc)),
    ]
    times = [(name, per_call_us(fn, args.runs)) for name, fn in rows]
    baseline = times[1][1]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"AdmissionReview shape check, {len(body)} B review, {args.runs} calls x 7 repeats")
    print(f"(median of the repeats; load average {load}, {os.cpu_count()} cores)\n")
    print(f"| {'check':<38} | {'µs/review':>10} | {'x shipped':>9} |")
    print(f"|{'-' * 40}|{'-' * 11}:|{'-' * 10}:|")
    for name, us in times:
        print(f"| {name:<38} | {us:>10.1f} | {us / baseline:>9.1f} |")


if __name__ == "__main__":
    main()
