"""A small, realistic Argo CD application in a fake cluster, and a local service to probe.

``shop-web`` (Application in ``argocd``) deploys Deployment ``web`` (2 replicas), its Service,
a Secret it mounts and a TruthCheck into namespace ``shop``. The PostSync hook Job
``shop-web-verify`` and its Pod carry Argo CD's tracking annotation like every hook does.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kmock

from tests.cluster.fakeapi import ApiServer
from webhooks.cluster.resources import (
    APPLICATION,
    DEPLOYMENT,
    ENDPOINTSLICE,
    JOB,
    POD,
    REPLICASET,
    SECRET,
    SERVICE,
    TRUTHCHECK,
    ResourceType,
)

SYNC_STARTED = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
REVISION = "abc123"
IMAGE = "registry.example.com/shop/web:1.5.0"
SECRET_VALUE = "s3cr3t-db-password"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tracking(kind: str, name: str, group: str = "apps") -> dict[str, str]:
    return {"argocd.argoproj.io/tracking-id": f"shop-web:{group}/{kind}:shop/{name}"}


def application(
    revision: str = REVISION, started: datetime = SYNC_STARTED, phase: str = "Running"
) -> dict[str, Any]:
    """The Application as Argo CD shows it while its PostSync hook runs (or after: Succeeded)."""
    op: dict[str, Any] = {
        "phase": phase,
        "startedAt": iso(started),
        "message": "waiting for completion of hook batch/Job/shop-web-verify"
        if phase == "Running"
        else "successfully synced (all tasks run)",
        "operation": {"sync": {"revision": revision}},
        "syncResult": {
            "revision": revision,
            "resources": [
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": "shop",
                    "name": "web",
                    "status": "Synced",
                    "syncPhase": "Sync",
                    "message": "deployment.apps/web configured",
                },
                {
                    "group": "batch",
                    "version": "v1",
                    "kind": "Job",
                    "namespace": "shop",
                    "name": "shop-web-verify",
                    "status": "Synced",
                    "syncPhase": "PostSync",
                    "hookType": "PostSync",
                    "hookPhase": "Running" if phase == "Running" else "Succeeded",
                },
            ],
        },
    }
    if phase != "Running":
        op["finishedAt"] = iso(started + timedelta(seconds=30))
    return {
        "metadata": {"name": "shop-web", "namespace": "argocd"},
        "spec": {
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "source": {"repoURL": "https://git.example.com/shop.git", "path": "web"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": "Healthy"},
            "operationState": op,
            "resources": [
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": "shop",
                    "name": "web",
                    "status": "Synced",
                },
                {
                    "version": "v1",
                    "kind": "Service",
                    "namespace": "shop",
                    "name": "web",
                    "status": "Synced",
                },
                {
                    "group": "truthgate.dev",
                    "version": "v1alpha1",
                    "kind": "TruthCheck",
                    "namespace": "shop",
                    "name": "shop-web",
                    "status": "Synced",
                },
            ],
        },
    }


EXTERNALSECRET = ResourceType("external-secrets.io", "v1beta1", "externalsecrets", "ExternalSecret")
CERTIFICATE = ResourceType("cert-manager.io", "v1", "certificates", "Certificate")
CLUSTERISSUER = ResourceType("cert-manager.io", "v1", "clusterissuers", "ClusterIssuer")


def serve_custom(api: ApiServer, *rtypes: ResourceType, namespaced: bool = True) -> None:
    """Install the CRDs of ``rtypes`` so discovery and the API serve them."""
    for rtype in rtypes:
        api.emulator.resources[
            kmock.resource(rtype.group, rtype.version, rtype.plural)
        ].kind = rtype.kind
        api.emulator.resources[
            kmock.resource(rtype.group, rtype.version, rtype.plural)
        ].namespaced = namespaced


def move_application(api: ApiServer, namespace: str) -> None:
    """The seeded Application, moved out of "argocd" into ``namespace``."""
    moved = api.get(APPLICATION, "argocd", "shop-web")
    assert moved is not None
    api.delete(APPLICATION, "argocd", "shop-web")
    moved["metadata"] = {"name": "shop-web", "namespace": namespace}
    api.put(APPLICATION, moved)


def own(api: ApiServer, *resources: Mapping[str, str | None]) -> None:
    """Add ``resources`` to the Application's status.resources, as Argo CD lists them (in
    namespace shop; ``"namespace": None`` lists a cluster-scoped one, which has none)."""
    app = api.get(APPLICATION, "argocd", "shop-web")
    assert app is not None
    listed = [{"namespace": "shop", "status": "Synced", **r} for r in resources]
    app["status"]["resources"] += [{k: v for k, v in r.items() if v is not None} for r in listed]
    api.put(APPLICATION, app)


def stripe_api(api: ApiServer, since: datetime, ready: str = "False") -> None:
    """ExternalSecret shop/stripe-api (a custom resource of the app), Ready=``ready`` since
    ``since``; ``serve_custom(api, EXTERNALSECRET)`` and ``own(api, ES_ENTRY)`` make it served
    and the app's."""
    api.put(
        EXTERNALSECRET,
        {
            "metadata": {"name": "stripe-api", "namespace": "shop", "generation": 1},
            "spec": {"target": {"name": "stripe-api"}},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": ready,
                        "reason": "SecretSyncedError",
                        "message": "could not get secret data from provider",
                        "lastTransitionTime": iso(since),
                    }
                ]
            },
        },
    )


ES_ENTRY = {"group": "external-secrets.io", "version": "v1beta1", "kind": "ExternalSecret"}
ES_ENTRY |= {"name": "stripe-api"}


def letsencrypt(api: ApiServer, since: datetime, ready: str = "False") -> None:
    """ClusterIssuer letsencrypt (cluster-scoped, the app's), Ready=``ready`` since ``since``;
    ``serve_custom(api, CLUSTERISSUER, namespaced=False)`` and ``own(api, ISSUER_ENTRY)`` make
    it served and the app's."""
    api.put(
        CLUSTERISSUER,
        {
            "metadata": {
                "name": "letsencrypt",
                "generation": 1,
                "annotations": {
                    "argocd.argoproj.io/tracking-id": "shop-web:cert-manager.io/ClusterIssuer:"
                    "/letsencrypt"
                },
            },
            "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory"}},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": ready,
                        "reason": "ErrRegisterACMEAccount",
                        "message": "Failed to register ACME account: 400 "
                        "urn:ietf:params:acme:error:invalidContact",
                        "observedGeneration": 1,
                        "lastTransitionTime": iso(since),
                    }
                ]
            },
        },
    )


ISSUER_ENTRY: dict[str, str | None] = {"group": "cert-manager.io", "version": "v1"}
ISSUER_ENTRY |= {"kind": "ClusterIssuer", "name": "letsencrypt", "namespace": None}


def truthcheck(
    probe_urls: dict[str, str], on_divergence: str = "degrade", window: str = "2m"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "shop-web",
            "namespace": "shop",
            "annotations": tracking("TruthCheck", "shop-web", "truthgate.dev"),
        },
        "spec": {
            "application": "shop-web",
            "observationWindow": window,
            "onDivergence": on_divergence,
            "probes": [
                {"name": n, "url": u, "expectStatus": 200, "timeoutSeconds": 2}
                for n, u in probe_urls.items()
            ],
        },
    }


def pod(
    name: str,
    *,
    ready: bool = True,
    restarts: int = 0,
    owner_uid: str,
    owner_kind: str = "ReplicaSet",
    owner_name: str = "web-7d9f",
    started: datetime = SYNC_STARTED + timedelta(seconds=20),
) -> dict[str, Any]:
    state: dict[str, Any] = (
        {"running": {"startedAt": iso(started)}}
        if ready
        else {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting"}}
    )
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"app": "web", "pod-template-hash": "7d9f"},
            "creationTimestamp": iso(started - timedelta(seconds=5)),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner_kind,
                    "name": owner_name,
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {"name": "web", "image": IMAGE, "envFrom": [{"secretRef": {"name": "db"}}]}
            ],
            "nodeName": "node-1",
        },
        "status": {
            "phase": "Running",
            "startTime": iso(started - timedelta(seconds=4)),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": iso(started),
                }
            ],
            "containerStatuses": [
                {
                    "name": "web",
                    "image": IMAGE,
                    "ready": ready,
                    "restartCount": restarts,
                    "imageID": "registry.example.com/shop/web@sha256:" + "a" * 64,
                    "started": ready,
                    "state": state,
                }
            ],
        },
    }


def seed(
    api: ApiServer,
    probe_urls: dict[str, str],
    *,
    on_divergence: str = "degrade",
    window: str = "2m",
    phase: str = "Running",
) -> None:
    api.put(APPLICATION, application(phase=phase))
    dep = api.put(
        DEPLOYMENT,
        {
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "annotations": tracking("Deployment", "web"),
                "labels": {"app": "web"},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": IMAGE,
                                "envFrom": [{"secretRef": {"name": "db"}}],
                            }
                        ]
                    },
                },
            },
            "status": {
                "observedGeneration": 1,
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            },
        },
    )
    rs = api.put(
        REPLICASET,
        {
            "metadata": {
                "name": "web-7d9f",
                "namespace": "shop",
                "labels": {"app": "web"},
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "web",
                        "uid": dep["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "web", "image": IMAGE}]}},
            },
            "status": {
                "replicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "observedGeneration": 1,
            },
        },
    )
    for i in (1, 2):
        api.put(POD, pod(f"web-7d9f-{i}", owner_uid=rs["metadata"]["uid"]))
    svc = api.put(
        SERVICE,
        {
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "annotations": tracking("Service", "web", ""),
            },
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    api.put(
        ENDPOINTSLICE,
        {
            "metadata": {
                "name": "web-x1",
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "web"},
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": "web",
                        "uid": svc["metadata"]["uid"],
                    }
                ],
            },
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": [f"10.0.0.{i}"],
                    "conditions": {"ready": True},
                    "targetRef": {"kind": "Pod", "name": f"web-7d9f-{i}", "namespace": "shop"},
                }
                for i in (1, 2)
            ],
            "ports": [{"port": 8080}],
        },
    )
    api.put(
        SECRET,
        {
            "metadata": {"name": "db", "namespace": "shop"},
            "type": "Opaque",
            "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()},
        },
    )
    api.put(
        SECRET,
        {  # not the app's: must not even appear by name
            "metadata": {"name": "unrelated", "namespace": "shop"},
            "type": "Opaque",
            "data": {"token": base64.b64encode(b"other").decode()},
        },
    )
    api.put(TRUTHCHECK, truthcheck(probe_urls, on_divergence, window))
    job = api.put(
        JOB,
        {
            "metadata": {
                "name": "shop-web-verify",
                "namespace": "shop",
                "annotations": {
                    **tracking("Job", "shop-web-verify", "batch"),
                    "argocd.argoproj.io/hook": "PostSync",
                },
            },
            "spec": {
                "template": {"spec": {"containers": [{"name": "verify", "image": "truthgate"}]}}
            },
            "status": {"active": 1},
        },
    )
    api.put(
        POD,
        {
            "metadata": {
                "name": "shop-web-verify-x7k",
                "namespace": "shop",
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": "shop-web-verify",
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {"containers": [{"name": "verify", "image": "truthgate"}]},
            "status": {"phase": "Running"},
        },
    )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = self.server.codes.get(self.path, 404)  # type: ignore[attr-defined]
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def service(codes: dict[str, int]) -> Iterator[tuple[str, dict[str, int]]]:
    """An HTTP service on 127.0.0.1 answering each path with a status; mutable while running."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.codes = codes  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", codes
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
