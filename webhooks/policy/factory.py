"""Pick a policy engine from one string, as ``truthgate serve --engine`` takes it.

``regorus`` (default): embedded, in process. ``opa+http://127.0.0.1:8181`` (or ``opa+https://``):
an OPA server reached over its REST API. Kept apart from the engines so the admission core never
imports the OPA client.
"""

from __future__ import annotations

from pathlib import Path

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyEngine


def open_engine(spec: str, policy_dir: Path, *, timeout: float = 2.0) -> PolicyEngine:
    spec = (spec or "regorus").strip()
    if spec == "regorus":
        from webhooks.policy.regorus_engine import RegorusEngine

        return RegorusEngine(policy_dir)
    if spec.startswith(("opa+http://", "opa+https://")):
        from webhooks.policy.opa_engine import OpaEngine

        return OpaEngine(policy_dir, spec.removeprefix("opa+"), timeout=timeout)
    raise PolicyError(
        f"unknown policy engine {short(spec, 80)!r}: use regorus or opa+http://host:port"
    )
