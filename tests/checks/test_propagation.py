"""Propagation: a ConfigMap/Secret changed by the sync that pods read once and never again."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import AFTER, BEFORE, SYNC, evidence, intent, obj, owned, pod, run
from webhooks.checks import propagation

CHANGED = "2026-11-27T10:00:02Z"


def _intent(kind: str, name: str, when: str = CHANGED, **extra: Any) -> dict[str, Any]:
    return intent(kind, name, group="", when=when, uid="u1", **extra)


def _consumer(
    name: str,
    container: dict[str, Any],
    start: str = BEFORE,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    dep = obj("Deployment", "web", api="apps/v1")
    rs = owned(obj("ReplicaSet", "web-1", api="apps/v1"), dep)
    p = owned(
        pod(
            name,
            start=start,
            spec={"containers": [{"name": "app", **container}], "volumes": volumes or []},
        ),
        rs,
    )
    return {"dep": dep, "rs": rs, "pod": p}


def _ev(parts: dict[str, Any], **sections: Any) -> Any:
    return evidence([parts["dep"], parts["rs"], parts["pod"], obj("ConfigMap", "cfg")], **sections)


def test_env_from_configmap_changed_after_pod_start_is_stale() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    [f] = run(propagation.check, _ev(parts, intents=[_intent("ConfigMap", "cfg")]))
    assert f["severity"] == "critical"
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert f["message"].startswith(
        "Deployment shop/web: 1 of 1 pods still run the old ConfigMap shop/cfg "
        "(changed 2026-11-27T10:00:02Z; read via envFrom"
    )


def test_secret_key_in_env_is_never_refreshed_either() -> None:
    parts = _consumer(
        "web-1-a",
        {"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]},
    )
    [f] = run(propagation.check, _ev(parts, intents=[_intent("Secret", "db")]))
    assert "old Secret shop/db" in f["message"] and "via env" in f["message"]


def test_volume_without_subpath_is_refreshed_by_the_kubelet() -> None:
    parts = _consumer(
        "web-1-a",
        {"volumeMounts": [{"name": "c", "mountPath": "/etc/app"}]},
        volumes=[{"name": "c", "configMap": {"name": "cfg"}}],
    )
    assert run(propagation.check, _ev(parts, intents=[_intent("ConfigMap", "cfg")])) == []


def test_subpath_mount_of_a_projected_volume_is_stale() -> None:
    parts = _consumer(
        "web-1-a",
        {"volumeMounts": [{"name": "c", "mountPath": "/etc/app/app.yaml", "subPath": "app.yaml"}]},
        volumes=[{"name": "c", "projected": {"sources": [{"configMap": {"name": "cfg"}}]}}],
    )
    [f] = run(propagation.check, _ev(parts, intents=[_intent("ConfigMap", "cfg")]))
    assert "subPath volume" in f["message"]


def test_container_restarted_after_the_change_reads_the_new_config() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    parts["pod"]["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": AFTER}}
    assert run(propagation.check, _ev(parts, intents=[_intent("ConfigMap", "cfg")])) == []


def test_changes_before_the_sync_dry_runs_and_denials_do_not_count() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    intents = [
        _intent("ConfigMap", "cfg", when="2026-11-27T09:59:00Z"),
        _intent("ConfigMap", "cfg", dryRun=True),
        _intent("ConfigMap", "cfg", decision={"allowed": False, "denials": ["no"], "warnings": []}),
    ]
    assert run(propagation.check, _ev(parts, intents=intents)) == []


def test_without_an_intents_section_managed_fields_date_the_change() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    cm = obj(
        "ConfigMap",
        "cfg",
        metadata={
            "creationTimestamp": BEFORE,
            "managedFields": [
                {"manager": "argocd-controller", "operation": "Apply", "time": CHANGED}
            ],
        },
    )
    ev = evidence([parts["dep"], parts["rs"], parts["pod"], cm])
    assert "intents" not in ev
    [f] = run(propagation.check, ev)
    assert "changed 2026-11-27T10:00:02Z" in f["message"]


def test_a_managed_fields_entry_owning_only_metadata_is_no_change_of_the_data() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    label: dict[str, object] = {"f:metadata": {"f:labels": {"f:team": {}}}}
    data: dict[str, object] = {"f:data": {"f:KEY": {}}, "f:metadata": {"f:labels": {}}}
    entries = [
        {"manager": "argocd-controller", "time": BEFORE, "fieldsV1": data},
        {"manager": "kubectl-label", "operation": "Update", "time": CHANGED, "fieldsV1": label},
    ]
    cm = obj("ConfigMap", "cfg", metadata={"creationTimestamp": BEFORE, "managedFields": entries})
    assert run(propagation.check, evidence([parts["dep"], parts["rs"], parts["pod"], cm])) == []


def test_an_empty_intents_section_is_trusted_over_managed_fields() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    cm = obj("ConfigMap", "cfg", metadata={"managedFields": [{"time": CHANGED}]})
    ev = evidence([parts["dep"], parts["rs"], parts["pod"], cm], intents=[])
    assert run(propagation.check, ev) == []


def test_pods_in_another_namespace_are_not_consumers() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    parts["pod"]["metadata"]["namespace"] = "other"
    assert run(propagation.check, _ev(parts, intents=[_intent("ConfigMap", "cfg")])) == []
    assert SYNC < CHANGED


def test_old_pods_a_rollout_is_replacing_are_left_to_the_rollout() -> None:
    # A checksum annotation rolled the Deployment with the config: revision 2 reads the new one.
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    revision = "deployment.kubernetes.io/revision"
    parts["dep"]["metadata"]["annotations"] = {revision: "2"}
    parts["rs"]["metadata"]["annotations"] = {revision: "1"}
    current = owned(obj("ReplicaSet", "web-2", api="apps/v1"), parts["dep"])
    current["metadata"]["annotations"] = {revision: "2"}
    new = owned(
        pod(
            "web-2-a",
            start=AFTER,
            spec={"containers": [{"name": "app", **parts["pod"]["spec"]["containers"][0]}]},
        ),
        current,
    )
    ev = evidence(
        [parts["dep"], parts["rs"], parts["pod"], current, new, obj("ConfigMap", "cfg")],
        intents=[_intent("ConfigMap", "cfg")],
    )
    assert run(propagation.check, ev) == []


# --- immutable ConfigMaps and Secrets: the kubelet stops watching them ------------------------

DELETED = "2026-11-27T10:00:01Z"
RECREATED = "2026-11-27T10:00:03Z"
_CREATE_IMMUTABLE: list[dict[str, Any]] = [
    {"op": "add", "path": "/data", "value": {"app.yaml": "level: debug"}},
    {"op": "add", "path": "/immutable", "value": True},
]
_WHOLE_VOLUME = {"volumeMounts": [{"name": "c", "mountPath": "/etc/app"}]}
_CM_VOLUME = {"name": "c", "configMap": {"name": "cfg"}}


def _recreated(kind: str, name: str, patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Argo CD replacing an immutable object: DELETE, then CREATE under the same name."""
    return [
        _intent(kind, name, when=DELETED, operation="DELETE", patch=[]),
        _intent(kind, name, when=RECREATED, operation="CREATE", patch=patch),
    ]


def _volume_consumer(
    volume: dict[str, Any] = _CM_VOLUME, container: dict[str, Any] = _WHOLE_VOLUME, **kw: Any
) -> dict[str, Any]:
    return _consumer("web-1-a", container, volumes=[volume], **kw)


def _replaced(parts: dict[str, Any], config: dict[str, Any] | None = None, **sections: Any) -> Any:
    """The consumer, and the immutable ConfigMap cfg the ledger saw replaced after the sync."""
    if "intents" not in sections:
        sections["intents"] = _recreated("ConfigMap", "cfg", _CREATE_IMMUTABLE)
    live = config if config is not None else obj("ConfigMap", "cfg", immutable=True)
    return evidence([parts["dep"], parts["rs"], parts["pod"], live], **sections)


def test_whole_volume_of_a_recreated_immutable_configmap_is_stale() -> None:
    cm = obj("ConfigMap", "cfg", immutable=True, metadata={"creationTimestamp": RECREATED})
    [f] = run(propagation.check, _replaced(_volume_consumer(), cm))
    assert f["severity"] == "critical"
    assert f["message"] == (
        "Deployment shop/web: 1 of 1 pods still run the old ConfigMap shop/cfg (changed "
        "2026-11-27T10:00:03Z; mounted as a volume, but the ConfigMap is immutable: the kubelet "
        "does not refresh it: restart the pods)"
    )


def test_projected_source_of_an_immutable_configmap_is_stale_too() -> None:
    projected = {"name": "c", "projected": {"sources": [{"configMap": {"name": "cfg"}}]}}
    [f] = run(propagation.check, _replaced(_volume_consumer(projected)))
    assert "the ConfigMap is immutable: the kubelet does not refresh it" in f["message"]


def test_a_secret_collected_as_metadata_is_known_immutable_from_its_create_intent() -> None:
    # The collector reads Secrets as metadata only: no `immutable` field to see live.
    parts = _volume_consumer({"name": "c", "secret": {"secretName": "tls"}})
    create: list[dict[str, Any]] = [
        {"op": "add", "path": "/data", "value": {"tls.crt": "<redacted>"}},
        {"op": "add", "path": "/immutable", "value": True},
    ]
    secret = obj("Secret", "tls", type="kubernetes.io/tls")
    [f] = run(
        propagation.check, _replaced(parts, secret, intents=_recreated("Secret", "tls", create))
    )
    assert (
        "old Secret shop/tls (changed 2026-11-27T10:00:03Z; mounted as a volume, but the "
        "Secret is immutable" in f["message"]
    )


def test_a_secret_recreated_mutable_is_refreshed_again() -> None:
    parts = _volume_consumer({"name": "c", "secret": {"secretName": "tls"}})
    was_immutable = _intent(
        "Secret", "tls", when=BEFORE, operation="CREATE", patch=_CREATE_IMMUTABLE
    )
    plain = [{"op": "add", "path": "/data", "value": {"tls.crt": "<redacted>"}}]
    intents = [was_immutable, *_recreated("Secret", "tls", plain)]
    assert run(propagation.check, _replaced(parts, obj("Secret", "tls"), intents=intents)) == []


def test_pods_started_after_the_recreate_mount_the_new_content() -> None:
    assert run(propagation.check, _replaced(_volume_consumer(start=AFTER))) == []


def test_without_intents_the_creation_timestamp_dates_the_recreate() -> None:
    cm = obj("ConfigMap", "cfg", immutable=True, metadata={"creationTimestamp": RECREATED})
    parts = _volume_consumer()
    [f] = run(propagation.check, evidence([parts["dep"], parts["rs"], parts["pod"], cm]))
    assert "(changed 2026-11-27T10:00:03Z; mounted as a volume" in f["message"]


def test_an_immutable_configmap_not_replaced_since_the_sync_is_not_stale() -> None:
    cm = obj("ConfigMap", "cfg", immutable=True, metadata={"creationTimestamp": BEFORE})
    parts = _volume_consumer()
    assert run(propagation.check, evidence([parts["dep"], parts["rs"], parts["pod"], cm])) == []


def test_marking_a_configmap_immutable_changes_nothing_a_pod_reads() -> None:
    parts = _consumer("web-1-a", {"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    flag = [{"op": "add", "path": "/immutable", "value": True}]
    ev = _ev(parts, intents=[_intent("ConfigMap", "cfg", patch=flag)])
    assert run(propagation.check, ev) == []


def test_env_and_an_immutable_volume_each_say_why() -> None:
    parts = _volume_consumer(container={"envFrom": [{"configMapRef": {"name": "cfg"}}]})
    sidecar = {"name": "reload", "volumeMounts": [{"name": "c", "mountPath": "/etc/app"}]}
    parts["pod"]["spec"]["containers"].append(sidecar)
    [f] = run(propagation.check, _replaced(parts))
    assert (
        "read via envFrom, which is never refreshed; mounted as a volume, but the ConfigMap "
        "is immutable" in f["message"]
    )


def test_a_container_restart_does_not_remount_an_immutable_volume() -> None:
    # The container crashed and restarted after the recreate; the pod, and its volume, did not.
    parts = _volume_consumer()
    parts["pod"]["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": AFTER}}
    [f] = run(propagation.check, _replaced(parts))
    assert "1 of 1 pods still run the old ConfigMap shop/cfg" in f["message"]
