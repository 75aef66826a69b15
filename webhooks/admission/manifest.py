"""A manifest as the AdmissionReview the API server would send for it: ``truthgate policy eval``.

``documents`` reads YAML or JSON text (several documents, ``kind: List`` expanded) into
objects; ``review_for`` turns one object into a v1 AdmissionReview the way a user means the
change: CREATE (the default), UPDATE against the object as it is now, or DELETE, by a given
user, optionally dry-run. The review then goes through ``parse_review`` like any review the
server receives, so a manifest the API server would refuse to describe is refused here too.

What the API server adds and a manifest lacks is filled in as it would be: ``kind`` and
``resource`` from ``apiVersion``/``kind`` (the resource as the kind's lower-case English plural,
which is what discovery names nearly every resource; no policy of ours reads it), the namespace
into the object, the groups of a ``system:serviceaccount:`` user, and the operation's options.
Pure: no file or network access (the command reads the files).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from webhooks.admission.review import (
    API_VERSION,
    KIND,
    check_depth,
    parse_review,
)
from webhooks.common.api import split_api_version
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import KubeObject

MANIFEST_OPERATIONS = ("CREATE", "UPDATE", "DELETE")
AUTHENTICATED = "system:authenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_SAME_PLURAL = frozenset({"endpoints"})
_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


@dataclass(frozen=True)
class Document:
    """One object read from an input, and where it came from (``file#2`` for the 2nd doc)."""

    where: str
    obj: dict[str, Any]

    @property
    def is_review(self) -> bool:
        return self.obj.get("kind") == KIND and str(self.obj.get("apiVersion", "")).startswith(
            "admission.k8s.io/"
        )


def documents(text: str, source: str) -> list[Document]:
    """Every object in YAML or JSON ``text`` (JSON is YAML); empty documents are skipped."""
    try:
        loaded = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or e
        raise BadRequestError(f"{where}: not valid YAML or JSON: {short(problem, 200)}") from e
    out: list[Document] = []
    for i, doc in enumerate(loaded, start=1):
        where = source if len(loaded) == 1 else f"{source}#{i}"
        if not isinstance(doc, dict):
            raise BadRequestError(
                f"{where}: expected a Kubernetes object (a mapping), got {type(doc).__name__}"
            )
        check_depth(doc)
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for j, item in enumerate(doc["items"], start=1):
                if not isinstance(item, dict):
                    raise BadRequestError(f"{where}: items[{j - 1}] is not an object")
                out.append(Document(f"{where}[{j}]", item))
        else:
            out.append(Document(where, doc))
    if not out:
        raise BadRequestError(f"{source}: no document in it")
    return out


def user_groups(username: str) -> list[str]:
    """The groups the API server gives ``username`` when nothing else says: a service account's
    own groups, and ``system:authenticated`` for everyone."""
    if username.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace = username.removeprefix(SERVICE_ACCOUNT_PREFIX).partition(":")[0]
        return ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED]
    return [AUTHENTICATED]


def guess_resource(kind: str) -> str:
    """``Deployment`` → ``deployments``, ``Ingress`` → ``ingresses``, ``Policy`` → ``policies``."""
    lower = kind.lower()
    if lower in _SAME_PLURAL:
        return lower
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return lower[:-1] + "ies"
    return lower + "s"


def _identity(obj: Mapping[str, Any], where: str) -> tuple[str, str, str, str, str]:
    """(group, version, kind, namespace, name) of a manifest; BadRequestError says what lacks."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not api_version:
        raise BadRequestError(f"{where}: apiVersion is missing")
    if not isinstance(kind, str) or not kind:
        raise BadRequestError(f"{where}: kind is missing")
    group, version = split_api_version(api_version)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise BadRequestError(f"{where}: metadata is missing")
    name = meta.get("name") or ""
    if not isinstance(name, str) or not (name or meta.get("generateName")):
        raise BadRequestError(f"{where}: metadata.name is missing")
    namespace = meta.get("namespace") or ""
    if not isinstance(namespace, str):
        raise BadRequestError(f"{where}: metadata.namespace must be a string")
    return group, version, kind, namespace, name


def find_old(new: Mapping[str, Any], olds: Sequence[Document], where: str) -> dict[str, Any]:
    """The object among ``olds`` that is ``new`` as it is now (same group, kind, namespace,
    name); a single old document is taken as long as it is the same kind."""
    group, _, kind, namespace, name = _identity(new, where)
    matches = []
    for doc in olds:
        g, _, k, ns, n = _identity(doc.obj, doc.where)
        if (g, k, n) == (group, kind, name) and (ns == namespace or not ns or not namespace):
            matches.append(doc.obj)
    if len(matches) != 1:
        found = "none" if not matches else f"{len(matches)}"
        raise BadRequestError(
            f"{where}: --old must hold {kind} {name} exactly once (the object as it is now); "
            f"found {found}"
        )
    return matches[0]


def review_for(
    obj: Mapping[str, Any],
    *,
    where: str,
    uid: str,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    username: str,
    groups: Sequence[str] | None = None,
    dry_run: bool = False,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The AdmissionReview (v1) the API server would send for ``operation`` on ``obj``.

    ``namespace`` fills in a manifest that names none (as ``kubectl -n`` does); ``groups``
    defaults to what the API server gives ``username``; ``old`` is required for UPDATE.
    """
    if operation not in MANIFEST_OPERATIONS:
        raise BadRequestError(f"operation must be CREATE, UPDATE or DELETE, got {operation!r}")
    if operation == "UPDATE" and old is None:
        raise BadRequestError(f"{where}: an UPDATE needs the object as it is now: pass --old FILE")
    if operation != "UPDATE" and old is not None:
        raise BadRequestError(f"{where}: --old is only for --operation UPDATE")
    new: KubeObject = copy.deepcopy(dict(obj))
    group, version, kind, ns, name = _identity(new, where)
    if not ns and namespace:
        ns = namespace
        new["metadata"]["namespace"] = ns
    previous: KubeObject | None = None
    if old is not None:
        previous = copy.deepcopy(dict(old))
        old_group, _, old_kind, old_ns, old_name = _identity(previous, f"{where} (--old)")
        if (old_group, old_kind, old_name) != (group, kind, name):
            raise BadRequestError(f"{where}: --old describes another object than the manifest")
        if not old_ns and ns:
            previous["metadata"]["namespace"] = ns
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": guess_resource(kind)}
    request: dict[str, Any] = {
        "uid": uid,
        "kind": gvk,
        "resource": gvr,
        "requestKind": dict(gvk),
        "requestResource": dict(gvr),
        "name": name,
        "namespace": ns,
        "operation": operation,
        "userInfo": {
            "username": username,
            "groups": list(groups) if groups else user_groups(username),
        },
        "object": None if operation == "DELETE" else new,
        "oldObject": new if operation == "DELETE" else previous,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": _OPTIONS[operation]},
    }
    if not ns:
        del request["namespace"]
    review = {"apiVersion": API_VERSION, "kind": KIND, "request": request}
    parse_review(review)  # the server's own checks: what it would refuse is refused here
    return review
