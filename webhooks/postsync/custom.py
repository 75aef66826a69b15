"""The application's custom resources: read one by one from what Argo CD lists as its own.

The built-in kinds are listed per namespace (``APP_OBJECT_TYPES``); custom resources (an
ExternalSecret, a cert-manager Certificate) cannot be, since which types exist differs per
cluster. The Application's ``status.resources`` names each resource Argo CD manages (group,
version, kind, namespace, name); every one whose group is not Kubernetes' own is fetched by
name, its resource name (plural) and scope resolved once per group/version by API discovery.
A namespaced one is read in its namespace; a cluster-scoped one (a ClusterIssuer, a Crossplane
managed resource) with a cluster-scoped get, which the chart grants only for the types
``verifier.rbac.clusterCustomResources`` names. What those resources name as what they wait on
(``common.depends``: a Certificate's issuer, an ExternalSecret's store) is read as well, in
their API group/version, though another app may own it: the platform's ClusterIssuer is the
usual cause of a team's Certificate not being issued.

Bounded: at most ``MAX_GROUP_VERSIONS`` discoveries and ``MAX_OBJECTS`` gets per verification.
Nothing here fails a verification: a type RBAC withholds, a discovery or a read that fails is a
noted gap, an object gone or a kind discovery does not know is skipped; the built-in objects
still tell the truth about the application.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from webhooks.checks import kube
from webhooks.cluster.api import ClusterReader
from webhooks.cluster.errors import ForbiddenError
from webhooks.cluster.resources import ResourceType, ServedType
from webhooks.common.api import API_GROUP, is_builtin_group, split_api_version
from webhooks.common.depends import dependencies
from webhooks.errors import ClusterError, short
from webhooks.evidence.model import KubeObject

log = logging.getLogger(__name__)

MAX_GROUP_VERSIONS = 20
MAX_OBJECTS = 200


@dataclass(frozen=True)
class _Entry:
    group: str
    version: str
    kind: str
    namespace: str | None
    name: str


def _entries(app: KubeObject) -> list[_Entry]:
    """The Application's custom resources, in Argo CD's order, without repeats."""
    seen: set[_Entry] = set()
    out: list[_Entry] = []
    for res in (app.get("status") or {}).get("resources") or []:
        if not isinstance(res, dict):
            continue
        group, version = res.get("group"), res.get("version")
        kind, name, ns = res.get("kind"), res.get("name"), res.get("namespace")
        if not isinstance(group, str) or is_builtin_group(group) or group == API_GROUP:
            continue  # Kubernetes' own kinds are listed; the TruthCheck is read on its own
        if not (isinstance(version, str) and version and isinstance(kind, str) and kind):
            continue
        if not (isinstance(name, str) and name):
            continue
        entry = _Entry(group, version, kind, ns if isinstance(ns, str) and ns else None, name)
        if entry not in seen:
            seen.add(entry)
            out.append(entry)
    return out


def custom_objects(reader: ClusterReader, app: KubeObject, gaps: list[str]) -> list[KubeObject]:
    """The live custom resources ``app`` lists as its own; what could not be read goes to
    ``gaps`` (one line per type and namespace, or per type for a cluster-scoped one, as the
    verdict's summary shows them)."""
    entries = _entries(app)
    if len(entries) > MAX_OBJECTS:
        log.warning(
            "application lists %d custom resources: reading the first %d",
            len(entries),
            MAX_OBJECTS,
        )
        gaps.append(f"custom resources beyond the first {MAX_OBJECTS} (of {len(entries)})")
        entries = entries[:MAX_OBJECTS]
    group_versions = list(dict.fromkeys((e.group, e.version) for e in entries))
    if len(group_versions) > MAX_GROUP_VERSIONS:
        cut = [f"{g}/{v}" for g, v in group_versions[MAX_GROUP_VERSIONS:]]
        log.warning(
            "application's custom resources span %d API group/versions: reading the first %d",
            len(group_versions),
            MAX_GROUP_VERSIONS,
        )
        gaps.append(
            f"custom resources of {len(cut)} more API group/versions ({', '.join(cut[:3])}"
            + (", …)" if len(cut) > 3 else ")")
        )
        group_versions = group_versions[:MAX_GROUP_VERSIONS]
    served = {gv: _discover(reader, *gv, gaps) for gv in group_versions}
    withheld: set[tuple[ResourceType, str | None]] = set()
    out = _read(reader, entries, served, gaps, withheld)
    # What they wait on, when the app does not own it (a ClusterIssuer of the platform's, a
    # SecretStore another app manages): read too, so a Certificate's finding can name it.
    read = {_identity(obj) for obj in out}
    waited = [e for e in dict.fromkeys(_waited_on(out, served)) if e not in read]
    return out + _read(reader, waited[: MAX_OBJECTS - len(entries)], served, gaps, withheld)


def _read(
    reader: ClusterReader,
    entries: list[_Entry],
    served: dict[tuple[str, str], list[ServedType]],
    gaps: list[str],
    withheld: set[tuple[ResourceType, str | None]],
) -> list[KubeObject]:
    out: list[KubeObject] = []
    for entry in entries:
        types = served.get((entry.group, entry.version))
        st = _find(types or [], entry.kind)
        if st is None:
            continue  # not discovered: an unknown group or kind has nothing to be read
        # Discovery decides the scope: a cluster-scoped object is read without a namespace
        # whatever the entry says; a namespaced one listed without one cannot be named.
        namespace = entry.namespace if st.namespaced else None
        if (st.namespaced and namespace is None) or (st.rtype, namespace) in withheld:
            continue
        obj = _get(reader, st.rtype, namespace, entry.name, gaps=gaps, withheld=withheld)
        if obj is not None:
            out.append(obj)
    return out


def _identity(obj: KubeObject) -> _Entry:
    """The entry an object read answers (a cluster-scoped one without a namespace)."""
    group, version = split_api_version(obj.get("apiVersion"))
    return _Entry(group, version, kube.kind(obj), kube.namespace(obj) or None, kube.name(obj))


def _waited_on(
    objects: list[KubeObject], served: dict[tuple[str, str], list[ServedType]]
) -> list[_Entry]:
    """What the objects name as what they wait on (``common.depends``), in their own API
    group/version (already discovered): in the object's namespace, or cluster-wide when
    discovery says the kind is cluster-scoped."""
    out: list[_Entry] = []
    for obj in objects:
        own = _identity(obj)
        for dep in dependencies(obj):
            st = _find(served.get((dep.group, own.version)) or [], dep.kind)
            if st is not None:
                where = own.namespace if st.namespaced else None
                out.append(_Entry(dep.group, own.version, dep.kind, where, dep.name))
    return out


def _find(types: list[ServedType], kind: str) -> ServedType | None:
    return next((t for t in types if t.rtype.kind == kind), None)


def _discover(reader: ClusterReader, group: str, version: str, gaps: list[str]) -> list[ServedType]:
    try:
        return reader.served_types(group, version)
    except ClusterError as e:
        log.warning("API discovery of %s/%s failed: %s", group, version, short(e, 200))
        gaps.append(f"custom resources of {group}/{version} (API discovery failed)")
        return []


def _get(
    reader: ClusterReader,
    rtype: ResourceType,
    namespace: str | None,
    name: str,
    *,
    gaps: list[str],
    withheld: set[tuple[ResourceType, str | None]],
) -> KubeObject | None:
    """One object (``namespace`` None: a cluster-scoped one); a type that cannot be read in a
    namespace, or cluster-wide, is noted once and not tried again there."""
    where = f" in {namespace}" if namespace is not None else ""
    try:
        return reader.get_object(rtype, namespace, name)
    except ForbiddenError:
        withheld.add((rtype, namespace))
        gap = f"{rtype.qualified}{where} (forbidden)"
        log.warning("not allowed to get %s: verifying without them", gap)
        gaps.append(gap)
    except ClusterError as e:
        withheld.add((rtype, namespace))  # one failure per type and namespace is enough
        log.warning("cannot read %s %s: %s", rtype.qualified, name, short(e, 200))
        gaps.append(f"{rtype.qualified}{where} (could not be read)")
    return None
