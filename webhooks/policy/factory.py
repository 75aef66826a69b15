"""Pick a policy engine from one string, as ``truthgate serve --engine`` takes it.

``regorus`` (default): embedded, in process. ``opa+http://127.0.0.1:8181`` (or ``opa+https://``):
an OPA server reached over its REST API. Kept apart from the engines so the admission core never
imports the OPA client.

When the directory also holds Gatekeeper ConstraintTemplates or Constraints (YAML), they are
evaluated by the embedded engine whichever engine runs truthgate's own packages, and both
answer as one (``CombinedEngine``). Whether to add them is decided at start: a directory that
gains its first template needs a restart, later changes are picked up by reload.
"""

from __future__ import annotations

from pathlib import Path

from webhooks.errors import PolicyError, short
from webhooks.policy.engine import PolicyEngine
from webhooks.policy.gatekeeper.inventory import InventoryCache
from webhooks.policy.gatekeeper.load import has_gatekeeper_documents
from webhooks.policy.gatekeeper.namespaces import NamespaceLabels


def open_engine(
    spec: str,
    policy_dir: Path,
    *,
    timeout: float = 2.0,
    namespaces: NamespaceLabels | None = None,
    inventory: InventoryCache | None = None,
) -> PolicyEngine:
    own = _own_engine(spec, policy_dir, timeout)
    if not has_gatekeeper_documents(policy_dir):
        return own
    from webhooks.policy.combined import CombinedEngine
    from webhooks.policy.gatekeeper.engine import GatekeeperEngine

    return CombinedEngine(own, GatekeeperEngine(policy_dir, namespaces, inventory))


def _own_engine(spec: str, policy_dir: Path, timeout: float) -> PolicyEngine:
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
