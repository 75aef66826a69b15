"""What a custom resource names as the one it waits on, in the field its project documents.

cert-manager's Certificate names its issuer in ``spec.issuerRef``, External Secrets'
ExternalSecret its store in ``spec.secretStoreRef``: a name, a kind (``Issuer`` or
``SecretStore`` when omitted; their ``Cluster…`` twins when cluster-scoped) and, for
cert-manager, a group (the resource's own when omitted). The collector reads what they name,
and the readiness check says so when that is not Ready. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhooks.common.api import split_api_version

#: The field -> the kind it names when it says none.
WAITS_ON = {"issuerRef": "Issuer", "secretStoreRef": "SecretStore"}


@dataclass(frozen=True)
class Dependency:
    """One resource another one names as what it waits on."""

    group: str
    kind: str
    name: str


def dependencies(obj: dict[str, Any]) -> list[Dependency]:
    """What ``obj`` names in a ``WAITS_ON`` field, in the order of the fields."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    own_group, _ = split_api_version(obj.get("apiVersion"))
    out: list[Dependency] = []
    for field, default_kind in WAITS_ON.items():
        ref = spec.get(field)
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref["name"]:
            continue
        kind, group = ref.get("kind"), ref.get("group")
        out.append(
            Dependency(
                group if isinstance(group, str) and group else own_group,
                kind if isinstance(kind, str) and kind else default_kind,
                ref["name"],
            )
        )
    return out
