"""Admission policies evaluated by an OPA server (the "at scale" engine), over its REST API.

The same policy directory the embedded engine reads is uploaded to OPA with
``PUT /v1/policies/<id>`` (id ``truthgate/<relative path>``) at start and on ``reload()``, and
each targeted package is evaluated with ``POST /v1/data/<package path>`` and
``{"input": …}``; OPA answers ``{"result": {"deny": [...], "warn": [...]}}``. Routing by kind,
METADATA and message handling are the embedded engine's, so both give the same decisions.

Every call has a bounded timeout. Any failure (connection, HTTP status, a package OPA does not
know — e.g. OPA restarted and lost the uploaded policies) is a PolicyError; the admission
failure mode decides what that means for the request.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opa_client import OpaClient

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyMeta, PolicyOutcome
from webhooks.policy.loader import PolicySource, load_sources, targets
from webhooks.policy.regorus_engine import admission_policies, messages, new_engine

ID_PREFIX = "truthgate/"


class OpaEngine:
    """PolicyEngine backed by an OPA server at ``url`` (``http://127.0.0.1:8181``)."""

    def __init__(
        self,
        policy_dir: Path,
        url: str = "http://127.0.0.1:8181",
        *,
        timeout: float = 2.0,
        token: str | None = None,
        client: OpaClient | None = None,
    ) -> None:
        self._dir = Path(policy_dir)
        self._lock = threading.Lock()
        if client is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PolicyError(f"OPA URL must be http(s)://host:port, got {short(url, 80)!r}")
            client = OpaClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 8181),
                ssl=parts.scheme == "https",
                token=token,
                timeout=timeout,
                retries=1,
            )
        self._client = client
        self._sources: tuple[PolicySource, ...] = ()
        self._metas: tuple[PolicyMeta, ...] = ()
        self.reload()

    def policies(self) -> Sequence[PolicyMeta]:
        return self._metas

    def _upload(self, sources: Sequence[PolicySource]) -> None:
        for src in sources:
            try:
                self._client.update_policy_from_string(
                    src.text, ID_PREFIX + src.relpath, rego_compat=False
                )
            except Exception as e:
                raise PolicyError(f"OPA refused {src.relpath}: {short(_describe(e), 300)}") from e

    def reload(self) -> None:
        with self._lock:
            sources = tuple(load_sources(self._dir))
            # Parse locally first: a broken file never reaches OPA, and routing uses the same
            # METADATA and the same notion of "policy package" as the embedded engine.
            metas, _ = admission_policies(sources, new_engine(sources))
            try:
                self._upload(sources)
            except PolicyError:
                with contextlib.suppress(PolicyError):
                    self._upload(self._sources)  # put the old set back, best effort
                raise
            gone = {ID_PREFIX + s.relpath for s in self._sources} - {
                ID_PREFIX + s.relpath for s in sources
            }
            for policy_id in sorted(gone):
                try:
                    self._client.delete_policy(policy_id)
                except Exception as e:
                    raise PolicyError(
                        f"OPA could not delete {policy_id}: {short(_describe(e), 200)}"
                    ) from e
            self._sources, self._metas = sources, metas

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        outcomes: list[PolicyOutcome] = []
        for meta in self._metas:
            if not targets(meta, kind):
                continue
            try:
                body = self._client.query_rule(
                    input_data=dict(input_doc), package_path=meta.package
                )
            except Exception as e:
                raise PolicyError(f"OPA evaluation of {meta.package} failed: {_describe(e)}") from e
            result = body.get("result") if isinstance(body, dict) else None
            if not isinstance(result, dict):
                raise PolicyError(
                    f"OPA does not know package {meta.package} (restarted? reload the policies)"
                )
            outcomes.append(
                PolicyOutcome(
                    meta.package, messages(result.get("deny")), messages(result.get("warn"))
                )
            )
        return outcomes

    def close(self) -> None:
        self._client.close_connection()


def _describe(error: BaseException) -> str:
    """One line about a client error, without echoing large bodies."""
    message = getattr(error, "message", None)
    return short(message if isinstance(message, str) else f"{type(error).__name__}: {error}", 300)
