"""Do the pods run what was declared?

Three correlations between the declared layer (the workload's pod template) and the runtime
(each pod's spec and the kubelet's ``containerStatuses``):

* every pod's container image equals the template's — a pod still on the previous image after
  the grace period means the rollout did not finish (or an OnDelete workload was never rolled).
  A StatefulSet's pods below its ``rollingUpdate.partition`` stay on the old revision on
  purpose (a canary): they are not counted;
* the kubelet runs the image the pod asked for (``status.image`` against ``spec.image``, after
  normalising the registry defaults ``docker.io/library/…:latest``). A warning at most: the
  runtime reports one of the names the image has on the node (kubernetes/kubernetes#51017), so
  another tag of the same bits reads as a mismatch; when another pod of the workload runs the
  same ``imageID`` under the declared name, it is that and nothing is said;
* all pods of one workload and template revision run the same digest (``imageID``) per image
  reference. Mixed digests under one tag mean the tag was re-pushed between pulls: identical
  manifests, different code. Across revisions (a rollout in progress) they are expected.
"""

from __future__ import annotations

from collections import defaultdict

from webhooks.checks import kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, finding, not_converged
from webhooks.common.kinds import WORKLOAD_KINDS
from webhooks.common.text import clip
from webhooks.evidence.model import Evidence, KubeObject


def normalize(image: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``; registries spelled the way kubelet does."""
    ref = image.strip()
    first, _, rest = ref.partition("/")
    if not rest:
        ref = f"docker.io/library/{ref}"
    elif not ("." in first or ":" in first or first == "localhost"):
        ref = f"docker.io/{ref}"
    last = ref.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        ref += ":latest"
    return ref


def digest_of(image_id: str) -> str | None:
    """The ``sha256:…`` part of an imageID (``docker-pullable://repo@sha256:…`` too)."""
    _, at, digest = image_id.rpartition("@")
    if at and digest.startswith("sha256:"):
        return digest
    if image_id.startswith("sha256:"):
        return image_id  # some runtimes report only the config digest
    return None


def _template_images(workload: KubeObject) -> dict[str, str]:
    spec = kube.get_dict(workload, "spec", "template", "spec")
    return {
        name: image
        for c in [*kube.dicts(spec, "initContainers"), *kube.dicts(spec, "containers")]
        if (name := kube.get_str(c, "name")) and (image := kube.get_str(c, "image"))
    }


def _pod_images(pod: KubeObject) -> dict[str, str]:
    return _template_images({"spec": {"template": {"spec": kube.get_dict(pod, "spec")}}})


def _ordinal(pod: KubeObject) -> int | None:
    """A StatefulSet pod's ordinal: its ``apps.kubernetes.io/pod-index`` label, else its name."""
    text = kube.get_str(pod, "metadata", "labels", "apps.kubernetes.io/pod-index")
    text = text if text is not None else kube.name(pod).rpartition("-")[2]
    return int(text) if text.isdigit() else None


def _held_by_partition(workload: KubeObject, pod: KubeObject) -> bool:
    """A StatefulSet pod the partition keeps on the old revision on purpose."""
    if kube.kind(workload) != "StatefulSet":
        return False
    partition = kube.get_int(workload, "spec", "updateStrategy", "rollingUpdate", "partition") or 0
    ordinal = _ordinal(pod)
    return ordinal is not None and ordinal < partition


def _declared(
    workload: KubeObject, live: list[KubeObject], ctx: CheckContext
) -> list[CheckFinding]:
    declared = _template_images(workload)
    stale: dict[tuple[str, str], int] = defaultdict(int)
    live = [p for p in live if not _held_by_partition(workload, p)]
    for pod in live:
        for cname, image in _pod_images(pod).items():
            want = declared.get(cname)
            if want is not None and normalize(want) != normalize(image):
                stale[(cname, image)] += 1
    out: list[CheckFinding] = []
    on_delete = kube.get_str(workload, "spec", "updateStrategy", "type") == "OnDelete"
    for (cname, image), count in sorted(stale.items()):
        text = (
            f"{kube.display(workload)}: {count} of {len(live)} pods run {image} in container "
            f"{cname}, declared {declared[cname]}"
        )
        if on_delete:
            out.append(
                finding(
                    "runtime",
                    "images/declared",
                    workload,
                    text + " (OnDelete: pods roll only when deleted)",
                    "warning",
                )
            )
        else:
            out.append(not_converged(ctx, "runtime", "images/declared", workload, text))
    return out


def _kubelet(workload: KubeObject, live: list[KubeObject]) -> list[CheckFinding]:
    # Digests seen running under the very name the pod asked for, per container.
    confirmed: dict[str, set[str]] = defaultdict(set)
    for pod in live:
        asked = _pod_images(pod)
        for status in pods.container_statuses(pod):
            cname = kube.get_str(status, "name") or ""
            running = kube.get_str(status, "image")
            digest = digest_of(kube.get_str(status, "imageID") or "")
            if (
                digest
                and running
                and cname in asked
                and normalize(running) == normalize(asked[cname])
            ):
                confirmed[cname].add(digest)
    out: list[CheckFinding] = []
    for pod in live:
        asked = _pod_images(pod)
        for status in pods.container_statuses(pod):
            cname = kube.get_str(status, "name") or ""
            running = kube.get_str(status, "image")
            want = asked.get(cname)
            if not running or not want:
                continue
            # Pinned by digest: the kubelet may print the digest form; compare digests.
            want_digest = digest_of(want)
            if want_digest:
                got = digest_of(kube.get_str(status, "imageID") or "") or digest_of(running)
                if got and got != want_digest:
                    out.append(
                        finding(
                            "runtime",
                            "images/digest",
                            workload,
                            f"{kube.display(workload)}: pod {kube.name(pod)} container {cname} runs "
                            f"{clip(got, 20)}, declared {clip(want_digest, 20)} (a multi-arch index "
                            "resolves per platform; verify if unexpected)",
                            "warning",
                        )
                    )
                continue
            if normalize(running) == normalize(want) or digest_of(running) is not None:
                continue
            digest = digest_of(kube.get_str(status, "imageID") or "")
            if digest in confirmed[cname]:
                continue  # the same bits another pod runs under the declared name
            same = f" ({clip(digest, 20)})" if digest else ""
            out.append(
                finding(
                    "runtime",
                    "images/kubelet",
                    workload,
                    f"{kube.display(workload)}: pod {kube.name(pod)} container {cname} reports "
                    f"{running}{same}, its spec says {want}: another tag of the same image, or "
                    "not the declared image; compare the digests",
                    "warning",
                )
            )
    return out


def _revision(pod: KubeObject) -> str:
    """The pod template revision a pod was made from (its ReplicaSet's hash, or the
    StatefulSet/DaemonSet revision); empty when the pod does not say."""
    labels = kube.str_map(pod, "metadata", "labels")
    return labels.get("pod-template-hash") or labels.get("controller-revision-hash") or ""


def _mixed(workload: KubeObject, live: list[KubeObject]) -> list[CheckFinding]:
    # Per template revision: a rollout of a re-pushed floating tag runs the old digest in the
    # old revision's pods and the new one in the new revision's, as it should; pods of one
    # revision that disagree pulled the same tag at different times.
    seen: dict[tuple[str, str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pod in live:
        asked = _pod_images(pod)
        for status in pods.container_statuses(pod):
            cname = kube.get_str(status, "name") or ""
            digest = digest_of(kube.get_str(status, "imageID") or "")
            if cname in asked and digest:
                key = (cname, normalize(asked[cname]), _revision(pod))
                seen[key][digest].append(kube.name(pod))
    out: list[CheckFinding] = []
    for (cname, image, _), digests in sorted(seen.items()):
        if len(digests) < 2:
            continue
        total = sum(len(v) for v in digests.values())
        spread = ", ".join(
            f"{clip(d, 20)} on {len(names)}"
            for d, names in sorted(digests.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        )
        out.append(
            finding(
                "runtime",
                "images/mixed-digests",
                workload,
                f"{kube.display(workload)}: container {cname} runs {len(digests)} different digests "
                f"of {image} across {total} pods ({spread}); the tag was re-pushed",
                "critical",
            )
        )
    return out


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for workload in ctx.index.members(*WORKLOAD_KINDS):
        owner = ctx.index.owner(workload)
        if kube.kind(workload) == "ReplicaSet" and owner is not None:
            continue  # a Deployment's ReplicaSets are judged through the Deployment
        live = [
            p
            for p in ctx.index.pods_of(workload)
            if not pods.is_terminating(p)
            and kube.get_str(p, "status", "phase") not in ("Succeeded", "Failed")
        ]
        if not live:
            continue
        out += _declared(workload, live, ctx) + _kubelet(workload, live) + _mixed(workload, live)
    return out
