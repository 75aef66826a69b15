"""The only door to the Kubernetes API: read objects as raw dicts, write TruthCheck status.

Everything above this module sees two small protocols — ``ClusterReader`` and ``StatusWriter``
in ``webhooks.cluster.api`` —
and raw dicts exactly as the API server returns them (camelCase, ``apiVersion``/``kind`` kept),
so an Evidence document is the cluster's own words. The adapter goes through the official
client's ``ApiClient`` with ``_request_timeout`` on every call and decodes the JSON itself:
the generated model classes would rename fields and drop unknown ones (custom resources).

Failures become ``ClusterError`` (``ConflictError`` on 409, ``ForbiddenError`` on 403), chained
and cut short; a missing object is ``None``, a resource type the server does not serve lists
as empty (an old cluster without EndpointSlices is not an error).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from webhooks.cluster.errors import ForbiddenError, status_message
from webhooks.cluster.redact import secret_metadata_only
from webhooks.cluster.resources import (
    DEPLOYMENT,
    NAMESPACE,
    REPLICASET,
    SECRET,
    STATEFULSET,
    ResourceType,
    ServedType,
    served_types,
)
from webhooks.cluster.watch import WatchStream
from webhooks.common.api import join_api_version
from webhooks.errors import ClusterError, ConflictError, short
from webhooks.evidence.model import KubeObject
from webhooks.policy.gatekeeper.inventory import SyncKind

log = logging.getLogger(__name__)

_JSON = "application/json"
_MERGE_PATCH = "application/merge-patch+json"
# Ask for metadata only where values must never travel (Secrets); plain JSON as the fallback.
_METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1," + _JSON
_PAGE = 500


class KubeClient:
    """ClusterReader and StatusWriter (webhooks.cluster.api) over the official kubernetes client."""

    def __init__(
        self, api: k8s_client.ApiClient, *, timeout: float = 10.0, max_items: int = 5000
    ) -> None:
        self._api = api
        self._timeout = timeout
        self._max_items = max_items  # per type and namespace: Evidence stays bounded

    @property
    def host(self) -> str:
        return str(self._api.configuration.host)

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    # -- reading ---------------------------------------------------------------------------

    def get_object(
        self, rtype: ResourceType, namespace: str | None, name: str
    ) -> KubeObject | None:
        status, body = self._call("GET", rtype.path(namespace, name), "get", rtype, namespace)
        if status == 404:
            return None
        obj = _object(body, rtype)
        return secret_metadata_only(obj) if rtype == SECRET else obj

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[KubeObject]:
        return self.list_versioned(rtype, namespace)[0]

    def list_versioned(
        self, rtype: ResourceType, namespace: str | None
    ) -> tuple[list[KubeObject], str]:
        """The objects and the list's ``resourceVersion`` (where a watch resumes from)."""
        items: list[KubeObject] = []
        accept = _METADATA_ONLY if rtype == SECRET else _JSON
        cont: str | None = None
        version = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", _PAGE)]
            if cont:
                query.append(("continue", cont))
            status, body = self._call(
                "GET", rtype.path(namespace), "list", rtype, namespace, query=query, accept=accept
            )
            if status == 404:  # the server does not serve this type: nothing to list
                return items, version
            # The first page's version: the snapshot every later page continues.
            version = version or str((body.get("metadata") or {}).get("resourceVersion") or "")
            for raw in body.get("items") or []:
                # List items carry no apiVersion/kind (metadata-only ones carry the meta kind).
                obj = dict(raw)
                obj["apiVersion"] = rtype.api_version
                obj["kind"] = rtype.kind
                items.append(secret_metadata_only(obj) if rtype == SECRET else obj)
            cont = (body.get("metadata") or {}).get("continue") or None
            if not cont:
                return items, version
            if len(items) >= self._max_items:
                log.warning(
                    "listed %d %s in %s: stopping there to keep evidence bounded",
                    len(items),
                    rtype.qualified,
                    namespace,
                )
                return items, version

    def watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        resource_version: str,
        *,
        timeout_seconds: int,
        on_open: Callable[[], None] | None = None,
    ) -> WatchStream:
        """A watch from ``resource_version`` that ends after ``timeout_seconds`` (watch.py)."""
        return WatchStream(
            self._api,
            rtype,
            namespace,
            resource_version,
            timeout_seconds=timeout_seconds,
            connect_timeout=self._timeout,
            on_open=on_open,
        )

    def served_types(self, group: str, version: str) -> list[ServedType]:
        """The resource types ``group/version`` serves, from API discovery (one bounded GET of
        ``/apis/{group}/{version}``; subresources left out). Not served (404): none."""
        status, body = self._call(
            "GET",
            f"/apis/{quote(group, safe='')}/{quote(version, safe='')}",
            "get",
            ResourceType(group, version, "", ""),
            None,
            what=f"API discovery of {join_api_version(group, version)}",
        )
        if status == 404:
            return []
        return served_types(group, version, body)

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        status, body = self._call("GET", SECRET.path(namespace, name), "get", SECRET, namespace)
        if status == 404:
            return None
        encoded = (body.get("data") or {}).get(key)
        if not isinstance(encoded, str):
            return None
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError) as e:
            raise ClusterError(f"secret {namespace}/{name} key {key!r} is not base64 text") from e

    # -- writing ---------------------------------------------------------------------------

    def patch_status(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        status: dict[str, Any],
        resource_version: str | None,
    ) -> KubeObject:
        body: dict[str, Any] = {"status": status}
        if resource_version is not None:
            # With metadata.resourceVersion in a merge patch the API server checks it first.
            body["metadata"] = {"resourceVersion": resource_version}
        code, reply = self._call(
            "PATCH",
            rtype.path(namespace, name, "status"),
            "patch",
            rtype,
            namespace,
            body=body,
            content_type=_MERGE_PATCH,
            subresource="status",
        )
        if code == 404:
            raise ClusterError(f"{rtype.kind} {namespace}/{name} not found (was it deleted?)")
        return _object(reply, rtype)

    def create_object(self, rtype: ResourceType, namespace: str, body: KubeObject) -> KubeObject:
        """POST a new object; ConflictError when it already exists."""
        _, reply = self._call(
            "POST", rtype.path(namespace), "create", rtype, namespace, body=body, content_type=_JSON
        )
        return _object(reply, rtype)

    def patch_object(
        self, rtype: ResourceType, namespace: str, name: str, body: KubeObject
    ) -> KubeObject:
        """Merge-patch an object; a ``metadata.resourceVersion`` in ``body`` makes a stale write
        a ConflictError (the API server checks it first)."""
        code, reply = self._call(
            "PATCH",
            rtype.path(namespace, name),
            "patch",
            rtype,
            namespace,
            body=body,
            content_type=_MERGE_PATCH,
        )
        if code == 404:
            raise ConflictError(f"{rtype.kind} {namespace}/{name} was deleted while updating")
        return _object(reply, rtype)

    # -- transport -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        verb: str,
        rtype: ResourceType,
        namespace: str | None,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        accept: str = _JSON,
        content_type: str | None = None,
        subresource: str | None = None,
        what: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One request; returns (status, decoded body) for 2xx and 404, raises otherwise."""
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        what = what or rtype.qualified + (f"/{subresource}" if subresource else "")
        try:
            request = self._api.param_serialize(
                method,
                path,
                query_params=query,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(*request, _request_timeout=self._timeout)
            response.read()  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, OSError, ApiException) as e:
            raise ClusterError(
                f"cannot reach the Kubernetes API at {self.host} ({verb} {what}): {short(e, 200)}"
            ) from e
        code = int(response.status)
        data = response.data or b""
        if 200 <= code < 300 or code == 404:
            if code == 404:
                return code, {}
            try:
                decoded = json.loads(data)
            except ValueError as e:
                raise ClusterError(f"{verb} {what}: the API answered with non-JSON") from e
            if not isinstance(decoded, dict):
                raise ClusterError(f"{verb} {what}: the API answered with a non-object")
            return code, decoded
        message = status_message(data)
        if code == 403:
            raise ForbiddenError(verb, what, namespace, message)
        if code == 409:
            raise ConflictError(f"{verb} {what} in {namespace}: conflict: {message}")
        if code == 401:
            raise ClusterError(f"unauthorized at {self.host}: check the credentials ({message})")
        raise ClusterError(f"{verb} {what} in {namespace}: HTTP {code}: {message}")


def _object(body: dict[str, Any], rtype: ResourceType) -> KubeObject:
    body.setdefault("apiVersion", rtype.api_version)
    body.setdefault("kind", rtype.kind)
    return body


def connect(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    server: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    pool_size: int | None = None,
) -> KubeClient:
    """A KubeClient from an explicit server URL, in-cluster credentials or a kubeconfig.

    With none given: in-cluster when running in a Pod (KUBERNETES_SERVICE_HOST), else the
    default kubeconfig, as kubectl would.
    """
    cfg = k8s_client.Configuration()
    try:
        if server:
            cfg.host = server.rstrip("/")
        elif in_cluster or (kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST")):
            k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=cfg
            )
    except (ConfigException, OSError) as e:
        raise ClusterError(f"no usable Kubernetes configuration: {short(e, 200)}") from e
    cfg.retries = retries  # connection-level retries only; every request also has a timeout
    if pool_size is not None:  # connections kept for reuse (informers hold one per watch)
        cfg.connection_pool_maxsize = pool_size
    return KubeClient(k8s_client.ApiClient(cfg), timeout=timeout)


def _lazy(client: Callable[[], KubeClient]) -> Callable[[], KubeClient]:
    """``client()`` made on first use, then shared (a server that never needs it never connects)."""
    lock = threading.Lock()
    made: list[KubeClient] = []

    def get() -> KubeClient:
        with lock:
            if not made:
                made.append(client())
            return made[0]

    return get


def namespace_labels_fetch(
    client: Callable[[], KubeClient] = lambda: connect(timeout=2.0),
) -> Callable[[str], dict[str, str] | None]:
    """A namespace's labels from the API server (one bounded GET, 2 s), for Gatekeeper's
    ``namespaceSelector``."""
    shared = _lazy(client)

    def fetch(name: str) -> dict[str, str] | None:
        obj = shared().get_object(NAMESPACE, None, name)
        if obj is None:
            return None
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    return fetch


def plural(kind: str) -> str:
    """The resource name of a kind, by the English rule Kubernetes' own types follow
    (``Ingress`` -> ``ingresses``, ``NetworkPolicy`` -> ``networkpolicies``); irregular plurals
    such as ``Endpoints`` are not known."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def inventory_lister(
    client: Callable[[], KubeClient] = lambda: connect(timeout=10.0),
) -> Callable[[SyncKind], list[KubeObject]]:
    """Every object of a kind, cluster-wide, for Gatekeeper's ``data.inventory`` (Secrets:
    metadata only)."""
    shared = _lazy(client)

    def list_kind(kind: SyncKind) -> list[KubeObject]:
        rtype = ResourceType(kind.group, kind.version, plural(kind.kind), kind.kind)
        return shared().list_objects(rtype, None)

    return list_kind


_SCALABLE = {(r.group, r.plural): r for r in (DEPLOYMENT, STATEFULSET, REPLICASET)}


def scale_parent_fetch(
    timeout: float = 1.0, server: str | None = None
) -> Callable[[Mapping[str, object]], KubeObject | None]:
    """The workload a ``scale`` subresource admission request changes (one bounded GET, no
    retries: the webhook answers within its deadline), so ``kubectl scale`` is tied to the
    workload's Argo CD app. Connects on first use; ``server`` is for tests."""
    shared = _lazy(lambda: connect(timeout=timeout, retries=0, server=server))

    def fetch(request: Mapping[str, object]) -> KubeObject | None:
        resource = request.get("resource")
        resource = resource if isinstance(resource, dict) else {}
        rtype = _SCALABLE.get((str(resource.get("group")), str(resource.get("resource"))))
        name, namespace = request.get("name"), request.get("namespace")
        if rtype is None or not isinstance(name, str) or not isinstance(namespace, str):
            return None
        return shared().get_object(rtype, namespace, name)

    return fetch
