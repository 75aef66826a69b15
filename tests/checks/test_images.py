"""Images: pods run the declared image, the kubelet runs what the pod asked, one digest per tag."""

from __future__ import annotations

import pytest

from tests.checks.helpers import EARLY, LATE, evidence, obj, owned, pod, run
from webhooks.checks import images

IMAGE = "registry.example.com/shop/web:1.5.0"


def _workload(image: str = IMAGE, strategy: str = "RollingUpdate") -> dict[str, object]:
    return obj(
        "StatefulSet",
        "web",
        api="apps/v1",
        spec={
            "replicas": 2,
            "updateStrategy": {"type": strategy},
            "template": {"spec": {"containers": [{"name": "web", "image": image}]}},
        },
    )


def _pod(
    owner: dict[str, object],
    name: str,
    image: str = IMAGE,
    digest: str = "sha256:aaa",
    running: str | None = None,
) -> dict[str, object]:
    return owned(
        pod(
            name,
            spec={"containers": [{"name": "web", "image": image}]},
            statuses=[
                {
                    "name": "web",
                    "image": running or image,
                    "imageID": f"registry.example.com/shop/web@{digest}",
                    "restartCount": 0,
                    "state": {"running": {}},
                }
            ],
        ),
        owner,
    )


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx:1.25"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
        ("registry.example.com:5000/web", "registry.example.com:5000/web:latest"),
        ("localhost/web@sha256:abc", "localhost/web@sha256:abc"),
    ],
)
def test_image_references_normalise_like_the_kubelet(given: str, normal: str) -> None:
    assert images.normalize(given) == normal


def test_one_digest_everywhere_is_fine() -> None:
    sts = _workload()
    assert run(images.check, evidence([sts, _pod(sts, "web-0"), _pod(sts, "web-1")])) == []


def test_mixed_digests_under_one_tag_mean_a_re_pushed_tag() -> None:
    sts = _workload()
    ev = evidence(
        [
            sts,
            _pod(sts, "web-0", digest="sha256:" + "a" * 64),
            _pod(sts, "web-1", digest="sha256:" + "b" * 64),
            _pod(sts, "web-2", digest="sha256:" + "a" * 64),
        ]
    )
    [f] = run(images.check, ev)
    assert f["check"] == "images/mixed-digests" and f["severity"] == "critical"
    assert f["resource"] == {"kind": "StatefulSet", "namespace": "shop", "name": "web"}
    assert (
        "2 different digests of registry.example.com/shop/web:1.5.0 across 3 pods" in (f["message"])
    )
    assert "on 2" in f["message"] and "on 1" in f["message"]


def test_a_rollout_of_a_re_pushed_tag_runs_one_digest_per_revision_as_it_should() -> None:
    sts = _workload()
    old = _pod(sts, "web-0", digest="sha256:" + "a" * 64)
    new = _pod(sts, "web-1", digest="sha256:" + "b" * 64)
    old["metadata"]["labels"] = {"controller-revision-hash": "web-5d4c3b2a1"}  # type: ignore[index]
    new["metadata"]["labels"] = {"controller-revision-hash": "web-6e5d4c3b2"}  # type: ignore[index]
    assert run(images.check, evidence([sts, old, new])) == []


def test_pods_on_an_old_image_wait_for_grace_then_fail() -> None:
    sts = _workload()
    old = "registry.example.com/shop/web:1.4.0"
    ev_objects = [sts, _pod(sts, "web-0"), _pod(sts, "web-1", image=old)]
    [early] = run(images.check, evidence(ev_objects, now=EARLY))
    assert early.get("converging") is True
    [late] = run(images.check, evidence(ev_objects, now=LATE))
    assert late["severity"] == "critical"
    assert (
        "1 of 2 pods run registry.example.com/shop/web:1.4.0 in container web, declared "
        "registry.example.com/shop/web:1.5.0" in late["message"]
    )


def test_ondelete_workload_on_an_old_image_is_a_warning() -> None:
    sts = _workload(strategy="OnDelete")
    old = _pod(sts, "web-0", image="registry.example.com/shop/web:1.4.0")
    [f] = run(images.check, evidence([sts, old]))
    assert f["severity"] == "warning" and "OnDelete" in f["message"]


def test_kubelet_reporting_another_image_than_the_pod_spec_is_a_warning() -> None:
    sts = _workload()
    other = _pod(sts, "web-0", running="registry.example.com/shop/web:1.3.9", digest="sha256:bbb")
    [f] = run(images.check, evidence([sts, other]))
    assert f["check"] == "images/kubelet" and f["severity"] == "warning"
    assert (
        "pod web-0 container web reports registry.example.com/shop/web:1.3.9 (sha256:bbb)"
        in (f["message"])
    )


def test_another_tag_of_the_bits_a_sibling_runs_under_the_declared_name_is_no_mismatch() -> None:
    # containerd reports repoTags[0] of the image: ":stable" when the node has both tags.
    sts = _workload()
    declared = _pod(sts, "web-0", digest="sha256:aaa")
    aliased = _pod(
        sts, "web-1", running="registry.example.com/shop/web:stable", digest="sha256:aaa"
    )
    assert run(images.check, evidence([sts, declared, aliased])) == []


def test_pods_below_a_statefulset_partition_stay_on_the_old_image_on_purpose() -> None:
    sts = _workload()
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}  # type: ignore[index]
    held = _pod(sts, "web-0", image="registry.example.com/shop/web:1.4.0")
    rolled = _pod(sts, "web-1")
    assert run(images.check, evidence([sts, held, rolled], now=LATE)) == []
    behind = _pod(sts, "web-1", image="registry.example.com/shop/web:1.4.0")
    [f] = run(images.check, evidence([sts, held, behind], now=LATE))
    assert "1 of 1 pods run registry.example.com/shop/web:1.4.0" in f["message"]


def test_kubelet_spelling_of_docker_hub_images_is_not_a_mismatch() -> None:
    sts = _workload(image="redis:7.2")
    p = _pod(sts, "web-0", image="redis:7.2", running="docker.io/library/redis:7.2")
    assert run(images.check, evidence([sts, p])) == []


def test_digest_pinned_image_running_another_digest_is_flagged() -> None:
    pinned = "registry.example.com/shop/web@sha256:" + "c" * 64
    sts = _workload(image=pinned)
    p = _pod(sts, "web-0", image=pinned, digest="sha256:" + "d" * 64)
    [f] = run(images.check, evidence([sts, p]))
    assert f["check"] == "images/digest"


def test_a_deployment_is_judged_through_its_replicasets_pods() -> None:
    dep = obj(
        "Deployment",
        "web",
        api="apps/v1",
        spec={"template": {"spec": {"containers": [{"name": "web", "image": IMAGE}]}}},
    )
    rs = owned(obj("ReplicaSet", "web-1", api="apps/v1"), dep)
    pods = [
        _pod(rs, "web-1-a", digest="sha256:" + "a" * 64),
        _pod(rs, "web-1-b", digest="sha256:" + "b" * 64),
    ]
    [f] = run(images.check, evidence([dep, rs, *pods]))
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
