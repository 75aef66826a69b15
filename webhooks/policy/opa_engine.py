"""Admission policies evaluated by an OPA server (the "at scale" engine), over its REST API.

The same policy directory the embedded engine reads is uploaded to OPA with
``PUT /v1/policies/<id>`` (id ``truthgate/<relative path>``) at start and on ``reload()``, and
each targeted package is evaluated with ``POST /v1/data/<package path>`` and
``{"input": …}``. A review is one round trip: the embedded engine's generated routing module
(one rule per kind gathering the deny and warn sets of every policy targeting it) is uploaded
too, and ``POST /v1/data/truthgate_internal_route/<rule>`` answers every policy at once. Routing
by kind, METADATA and message handling are the embedded engine's, so both decide the same.

Every call has a bounded timeout. When OPA answers the gathered query with an error (a policy
failed at run time), each policy is then asked on its own, so the error stays that policy's
and the others' denials stand. An unreachable or slow OPA, or one that lost the policies
(restarted), is a PolicyError for the whole review: the failure mode decides what it means.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opa_client import OpaClient
from requests import HTTPError

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyMeta, PolicyOutcome
from webhooks.policy.loader import PolicySource, load_sources
from webhooks.policy.regorus_engine import (
    ROUTE_FILE,
    ROUTE_PACKAGE,
    Plan,
    admission_policies,
    messages,
    new_engine,
    plans,
)

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
        self._plans: Mapping[str, Plan] = {}
        self._other = Plan((), (), "")
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
            metas, rules = admission_policies(sources, new_engine(sources))
            by_kind, other, route_text = plans(metas, rules)
            route = PolicySource(Path(ROUTE_FILE), ROUTE_FILE, route_text, ROUTE_PACKAGE, None)
            new_engine([*sources, route])
            sources = (*sources, route)
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
            self._plans, self._other = by_kind, other

    def evaluate(self, kind: str, input_doc: Mapping[str, Any]) -> list[PolicyOutcome]:
        plan = self._plans.get(kind, self._other)
        if not plan.packages:
            return []
        doc = dict(input_doc)
        try:
            body = self._client.query_rule(
                input_data=doc, package_path=ROUTE_PACKAGE, rule_name=plan.route.rsplit(".", 1)[1]
            )
        except HTTPError:  # OPA answered with an error: some policy failed on this input
            return [self._one(package, doc) for package in plan.packages]
        except Exception as e:
            raise PolicyError(f"OPA evaluation of {ROUTE_PACKAGE} failed: {_describe(e)}") from e
        values = body.get("result") if isinstance(body, dict) else None
        if not isinstance(values, list) or len(values) != len(plan.steps):
            raise PolicyError(
                f"OPA does not know package {ROUTE_PACKAGE} (restarted? reload the policies)"
            )
        found = {(p, r): v for (p, r, _), v in zip(plan.steps, values, strict=True)}
        return [
            PolicyOutcome(p, messages(found.get((p, "deny"))), messages(found.get((p, "warn"))))
            for p in plan.packages
        ]

    def _one(self, package: str, doc: dict[str, Any]) -> PolicyOutcome:
        """One policy asked alone, after the gathered query failed: its error, or its answer."""
        try:
            body = self._client.query_rule(input_data=doc, package_path=package)
        except Exception as e:
            error = f"OPA evaluation of {package} failed: {_describe(e)}"
            return PolicyOutcome(package, error=error)
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            return PolicyOutcome(package, error=f"OPA does not know package {package}")
        return PolicyOutcome(package, messages(result.get("deny")), messages(result.get("warn")))

    def close(self) -> None:
        self._client.close_connection()


def _describe(error: BaseException) -> str:
    """One line about a client error, without echoing large bodies."""
    message = getattr(error, "message", None)
    return short(message if isinstance(message, str) else f"{type(error).__name__}: {error}", 300)
