"""The browser tests' stage: one loopback HTTP server that plays Argo CD's part.

* ``/harness/…`` the test page, the stand-in host (React 19 + extensionsAPI) and the scenario;
* ``/extensions/extension-truthgate.js`` the built bundle, as argocd-server serves it;
* ``/extensions/truthgate/…`` Argo CD's proxy extension (server/extension/extension.go): a
  400 ``Invalid headers: …`` unless ``Argocd-Application-Name`` is ``<namespace>:<name>`` and
  ``Argocd-Project-Name`` is given; a plain-text 401 ``Unauthorized extension request`` when
  the user may not invoke the extension (``scenario["rbac"] == "deny"``), or the application is
  not one Argo CD has (``scenario["appDeleted"]``, or another namespace or name) or not in that
  project; else it drops the cookie, adds ``Argocd-Namespace`` and the configured
  ``Truthgate-Proxy-Token`` and forwards the rest of the path to the real truthgate Flask app
  (with its real read API and ledger).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

EXTENSION = Path(__file__).resolve().parents[2] / "argocd" / "extension"
PREFIX = "/extensions/truthgate"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _refusal(scenario: dict[str, Any], app_header: str, project: str) -> Response | None:
    """Argo CD's answer before it forwards anything, or None when it forwards."""
    parts = app_header.split(":")
    if not app_header or not project or len(parts) != 2 or not all(parts):
        return Response("Invalid headers: <namespace>:<app-name> and a project are required\n", 400)
    meta = scenario["application"].get("metadata") or {}
    known = (meta.get("namespace"), meta.get("name"), scenario["application"]["spec"]["project"])
    if (
        scenario.get("rbac") == "deny"
        or scenario.get("appDeleted")
        or (parts[0], parts[1], project) != known
    ):
        return Response("Unauthorized extension request\n", 401)
    return None


def stage(scenario: dict[str, Any], truthgate: WSGIApp, token: str) -> WSGIApp:
    files = {
        "/harness/": (EXTENSION / "test" / "index.html", "text/html"),
        "/harness/host.js": (EXTENSION / "test" / "build" / "host.js", "text/javascript"),
        "/harness/start.js": (EXTENSION / "test" / "start.js", "text/javascript"),
        "/extensions/extension-truthgate.js": (
            EXTENSION / "dist" / "extension-truthgate.js",
            "text/javascript",
        ),
    }

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX + "/"):
            request = Request(environ)
            refused = _refusal(
                scenario,
                request.headers.get("Argocd-Application-Name", ""),
                request.headers.get("Argocd-Project-Name", ""),
            )
            if refused is not None:
                return refused(environ, start_response)
            environ = dict(environ)
            environ.pop("HTTP_COOKIE", None)
            environ["HTTP_ARGOCD_NAMESPACE"] = "argocd"
            environ["HTTP_TRUTHGATE_PROXY_TOKEN"] = token
            environ["PATH_INFO"] = path[len(PREFIX) :]
            return truthgate(environ, start_response)
        if path == "/harness/scenario.json":
            return Response(json.dumps(scenario), mimetype="application/json")(
                environ, start_response
            )
        if path in files:
            file, mime = files[path]
            return Response(file.read_bytes(), mimetype=mime)(environ, start_response)
        return Response("not found", 404)(environ, start_response)

    return app


@contextmanager
def serving(app: WSGIApp) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
