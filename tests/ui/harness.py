"""The browser tests' stage: one loopback HTTP server that plays Argo CD's part.

* ``/harness/…`` the test page, the stand-in host (React 19 + extensionsAPI) and the scenario;
* ``/extensions/extension-truthgate.js`` the built bundle, as argocd-server serves it;
* ``/extensions/truthgate/…`` Argo CD's proxy extension: it refuses a request without the
  ``Argocd-Application-Name`` and ``Argocd-Project-Name`` headers, drops the cookie, adds the
  configured ``Truthgate-Proxy-Token`` and forwards the rest of the path to the real truthgate
  Flask app (with its real read API and ledger).
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
            if not request.headers.get("Argocd-Application-Name") or not request.headers.get(
                "Argocd-Project-Name"
            ):
                return Response("missing Argo CD headers", 400)(environ, start_response)
            environ = dict(environ)
            environ.pop("HTTP_COOKIE", None)
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
