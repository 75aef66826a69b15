"""API versions: truthgate's own, written once, and the one way to join and split any other.

The TruthCheck CRD, the Evidence and Verdict documents and the admission configuration file all
carry ``apiVersion: truthgate.dev/v1alpha1``; a new version changes here, in the CRD and in
the shipped JSON Schemas (a test holds the schemas equal to this).
Kubernetes writes the core group's version alone (``v1``) and every other as ``group/version``.
"""

from __future__ import annotations

API_GROUP = "truthgate.dev"
API_VERSION_NAME = "v1alpha1"
API_VERSION = f"{API_GROUP}/{API_VERSION_NAME}"


def join_api_version(group: str, version: str) -> str:
    """``("apps", "v1")`` -> ``apps/v1``; the core group ``("", "v1")`` -> ``v1``."""
    return f"{group}/{version}" if group else version


def split_api_version(api_version: object) -> tuple[str, str]:
    """``apps/v1`` -> ``("apps", "v1")``; ``v1`` -> ``("", "v1")``; not a string -> ``("", "")``."""
    group, _, version = str(api_version or "").rpartition("/")
    return group, version


#: Kubernetes' own API groups without the ``k8s.io`` suffix (``""`` is the core group).
_BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})


def is_builtin_group(group: str) -> bool:
    """Whether ``group`` is one of Kubernetes' own API groups (core, ``apps``, ``*.k8s.io``) rather
    than one a CustomResourceDefinition adds (``cert-manager.io``; ``cluster.x-k8s.io`` too)."""
    return group in _BUILTIN_GROUPS or group.endswith(".k8s.io")
