"""Watch streams through the official client's ``kubernetes.watch.Watch``, as raw dicts.

One ``WatchStream`` is one watch request: from a ``resourceVersion``, with
``allowWatchBookmarks`` and a server-side ``timeoutSeconds`` (the stream ends then and the
caller watches again from where it was), and a client-side read timeout a little longer, so a
connection that goes silent can never hang its reader. Events come out as
``(type, object)`` with the object exactly as the API server sends it (``apiVersion``/``kind``
restored when a watch of metadata omits them; Secrets stripped to metadata).

``410 Gone`` — the server no longer has the changes since that version — is ``WatchExpired``:
the caller lists again. Every other failure is a ``ClusterError``, chained and cut short.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from webhooks.cluster.errors import WatchExpired, status_message
from webhooks.cluster.redact import secret_metadata_only
from webhooks.cluster.resources import SECRET, ResourceType
from webhooks.errors import ClusterError, short
from webhooks.evidence.model import KubeObject

_JSON = "application/json"
# A watch of Secrets asks for metadata only, as the list does (values never travel).
_METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," + _JSON
#: Seconds the client waits for bytes beyond the server's own timeoutSeconds.
READ_MARGIN_SECONDS = 15.0

WatchEvent = tuple[str, KubeObject]  # ("ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK", object)


class WatchStream:
    """One watch request; iterate it for events, ``stop()`` it from another thread."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        rtype: ResourceType,
        namespace: str | None,
        resource_version: str,
        *,
        timeout_seconds: int,
        connect_timeout: float,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        self._api = api
        self._rtype = rtype
        self._namespace = namespace
        self._version = resource_version
        self._timeout = timeout_seconds
        self._connect = connect_timeout
        self._on_open = on_open
        self._watch: k8s_watch.Watch | None = None
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]

    def __iter__(self) -> Iterator[WatchEvent]:
        what = f"watch {self._rtype.qualified} in {self._namespace or 'all namespaces'}"
        self._watch = k8s_watch.Watch()  # type: ignore[no-untyped-call]
        if self._stopped.is_set():
            return
        try:
            stream = self._watch.stream(  # type: ignore[no-untyped-call]
                self._request,
                resource_version=self._version,
                timeout_seconds=self._timeout,
            )
            for event in stream:
                kind, obj = event.get("type"), event.get("raw_object")
                if not isinstance(kind, str) or not isinstance(obj, dict):
                    continue
                yield kind, self._restore(obj)
        except ApiException as e:
            if self._stopped.is_set():
                return
            if e.status == 410:
                raise WatchExpired(f"{what}: resourceVersion {self._version} expired") from e
            raise ClusterError(f"{what}: HTTP {e.status}: {short(e.reason, 200)}") from e
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            if self._stopped.is_set():
                return  # stop() shut the socket: not an error
            raise ClusterError(f"{what}: {short(e, 200)}") from e

    def _request(self, **kwargs: Any) -> Any:
        """What ``Watch.stream`` calls: the raw streaming response of one watch GET."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self._timeout),
        ]
        if kwargs.get("resource_version"):
            query.append(("resourceVersion", kwargs["resource_version"]))
        accept = _METADATA_ONLY if self._rtype == SECRET else _JSON
        request = self._api.param_serialize(
            "GET",
            self._rtype.path(self._namespace),
            query_params=query,
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(
            *request, _request_timeout=(self._connect, self._timeout + READ_MARGIN_SECONDS)
        )
        raw = response.response  # the urllib3 response, streamed
        if self._stopped.is_set():  # stopped while connecting: Watch.stop() had no socket yet
            raw.close()  # an open stream: this connection is not reused
            raise ApiException(status=0, reason="stopped")
        if not 200 <= int(raw.status) < 300:
            body = raw.read(4096)
            raw.release_conn()
            raise ApiException(status=int(raw.status), reason=status_message(body))
        if self._on_open is not None:
            self._on_open()
        return raw

    def _restore(self, obj: dict[str, Any]) -> KubeObject:
        if obj.get("kind") in (None, "PartialObjectMetadata"):
            obj["apiVersion"] = self._rtype.api_version
            obj["kind"] = self._rtype.kind
        return secret_metadata_only(obj) if self._rtype == SECRET else obj
