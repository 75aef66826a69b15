"""A stand-in OPA server on 127.0.0.1: the REST endpoints truthgate uses, evaluated by regorus.

No OPA binary can be installed here, so this speaks OPA's documented contract
(https://www.openpolicyagent.org/docs/latest/rest-api/): ``PUT/GET/DELETE /v1/policies/<id>``
and ``POST /v1/data/<path>`` with ``{"input": …}`` answering ``{"result": …}`` (no ``result``
key when the document is undefined), and records every request so tests can assert paths,
methods and bodies.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import regorus


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str | None
    body: bytes


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=json.dumps)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass
class StandInOpa:
    modules: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    delay_data_seconds: float = 0.0
    fail_data_status: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _engine(self, modules: dict[str, str]) -> Any:
        engine = regorus.Engine()
        engine.set_rego_v0(False)
        for policy_id, text in sorted(modules.items()):
            engine.add_policy(policy_id, text)
        return engine

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/health":
            return 200, {}
        if path.startswith("/v1/policies"):
            policy_id = path.removeprefix("/v1/policies").strip("/")
            with self.lock:
                if method == "GET" and not policy_id:
                    return 200, {"result": [{"id": i, "raw": t} for i, t in self.modules.items()]}
                if method == "PUT":
                    candidate = {**self.modules, policy_id: body.decode()}
                    try:
                        self._engine(candidate)
                    except Exception as e:
                        return 400, {
                            "code": "invalid_parameter",
                            "message": "error(s) occurred while compiling module(s)",
                            "errors": [{"code": "rego_parse_error", "message": str(e)[:200]}],
                        }
                    self.modules = candidate
                    return 200, {}
                if method == "DELETE":
                    if self.modules.pop(policy_id, None) is None:
                        return 404, {"code": "resource_not_found", "message": "storage_not_found"}
                    return 200, {}
        if path.startswith("/v1/data/") and method == "POST":
            if self.delay_data_seconds:
                time.sleep(self.delay_data_seconds)
            if self.fail_data_status:
                return self.fail_data_status, {"code": "internal_error", "message": "boom"}
            doc = json.loads(body or b"{}")
            with self.lock:
                modules = dict(self.modules)
            engine = self._engine(modules)
            if "input" in doc:
                engine.set_input(doc["input"])
            query = "data." + ".".join(path.removeprefix("/v1/data/").strip("/").split("/"))
            try:
                results = engine.eval_query(query).get("result", [])
            except Exception as e:
                return 500, {"code": "internal_error", "message": str(e)[:200]}
            if not results:
                return 200, {}
            return 200, {"result": _jsonable(results[0]["expressions"][0]["value"])}
        return 404, {"code": "resource_not_found", "message": f"{method} {path}"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        self.server.opa.requests.append(
            Recorded(self.command, path, self.headers.get("Content-Type"), body)
        )
        status, payload = self.server.opa.handle(self.command, path, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    opa: StandInOpa


def start(opa: StandInOpa) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.opa = opa
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
