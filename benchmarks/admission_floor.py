"""The floor for the admission benchmark: the same gunicorn + Flask + TLS stack, always allowing.

It parses the review (it must, to echo the uid) and answers ``allowed: true``: no policies, no
ledger, no metrics. Whatever truthgate adds on top of this is the cost of truthgate itself.
Run as ``python -m benchmarks.admission_floor --bind 127.0.0.1:PORT --tls-cert C --tls-key K``.
"""

from __future__ import annotations

import argparse
import json

from flask import Flask, Response, jsonify, request

from webhooks.server.gunicorn_app import ServerSettings, WebhookServer


def floor_app() -> Flask:
    app = Flask("floor")

    @app.post("/validate")
    def validate() -> Response:
        review = json.loads(request.get_data())
        return jsonify(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": True},
            }
        )

    @app.get("/readyz")
    def readyz() -> Response:
        return jsonify({"ready": True})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    settings = ServerSettings(
        bind=args.bind,
        certfile=args.tls_cert,
        keyfile=args.tls_key,
        workers=args.workers,
        threads=args.threads,
        loglevel="warning",
    )
    WebhookServer(settings, floor_app()).run()


if __name__ == "__main__":
    main()
