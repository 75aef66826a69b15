"""Evidence from other clusters than the shop-web fixtures, each telling one story as an outside
engineer would write it: objects as the API returns them (events of both APIs, StatefulSets,
DaemonSets, CronJobs, multi-source and namespaced Applications, hooks the collector kept), and
what a platform engineer expects truthgate to say about it.

Each story names the verdict, the checks that must speak, the words their messages must carry
(the object, the number, the cause) and what must stay unsaid (no false alarm beside the true
one). The documents live in tests/fixtures/evidence/scenarios/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from webhooks.verdict.judge import SUMMARY_LIMIT, judge
from webhooks.verdict.load import load_evidence

SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "evidence" / "scenarios"


@dataclass(frozen=True)
class Story:
    verdict: str
    checks: tuple[str, ...] = ()  # must fire, critical when Degraded
    says: tuple[str, ...] = ()  # words some finding's message carries
    summary: str = ""  # the summary starts with this
    unsaid: tuple[str, ...] = ()  # words no finding carries
    clean: bool = False  # Healthy with no finding at all


STORIES: dict[str, Story] = {
    # Synced 09:40; at 09:52 on-call scaled to 6, set an env var and deleted a ConfigMap by hand.
    # The app lives in namespace team-pay (tracking key team-pay_payments); a same-named app of
    # team-b and the control-plane app "payments" own other objects in the evidence.
    "ns-app-hotfix-drift": Story(
        "Degraded",
        checks=("drift/human",),
        says=(
            "Deployment payments/api: changed out of band by oncall-dana@corp.example 2 times",
            "/spec/replicas",
            "ConfigMap payments/api-debug: changed out of band by oncall-dana@corp.example at "
            "2026-11-30T09:54:02Z (DELETE)",
        ),
        unsaid=("reconciler", "payments-b", "erik@corp.example"),
    ),
    # The HPA raised checkout to 12; the namespace quota allows 8 pods. Audit, two days on.
    "hpa-scaled-into-quota": Story(
        "Degraded",
        checks=("capacity/quota", "capacity/hpa"),
        summary="5 critical: Deployment checkout/checkout: 8 of 12 pods created (ReplicaSet "
        "checkout-5f9c6d7b8): exceeded quota checkout-quota (requested pods=1, used pods=8, "
        "limited pods=8) (FailedCreate x61)",
        says=("wants 12 replicas of Deployment checkout, has 8",),
    ),
    # partition: 2 keeps ledger-db-0/1 on postgres 16.3 on purpose while ledger-db-2 canaries.
    "statefulset-partition-canary": Story("Healthy", clean=True),
    # A CronJob run failed three days ago (kept by failedJobsHistoryLimit), later runs succeeded,
    # the current run is in progress.
    "cronjob-failed-run-in-history": Story("Healthy", clean=True),
    # The sync changed a whole-volume ConfigMap (refreshed), a Secret read by envFrom and a
    # projected ConfigMap mounted with subPath (neither refreshed); nothing restarted.
    "secret-envfrom-and-subpath-not-reloaded": Story(
        "Degraded",
        checks=("propagation/stale-config",),
        says=(
            "2 of 2 pods still run the old Secret comms/notifier-smtp (changed "
            "2026-11-30T12:00:02Z; read via envFrom",
            "the old ConfigMap comms/notifier-routing (changed 2026-11-30T12:00:01Z; read via "
            "subPath volume",
        ),
        unsaid=("notifier-templates",),
    ),
    # The vendor re-pushed :v1.7; the node replaced yesterday pulled the new bits.
    "daemonset-tag-repushed": Story(
        "Degraded",
        checks=("images/mixed-digests",),
        summary="1 critical: DaemonSet monitoring/node-agent: container agent runs 2 different "
        "digests of quay.io/vendorx/node-agent:v1.7 across 3 pods",
    ),
    # containerd names the image by repoTags[0] (":stable") on the node that had both tags;
    # the imageID is the declared one everywhere.
    "kubelet-reports-sibling-tag": Story("Healthy", clean=True),
    # 3.2.0 asks for 2Gi; its two new pods cannot be scheduled; 17 minutes after the sync.
    "rollout-stuck-insufficient-memory": Story(
        "Degraded",
        checks=("capacity/unschedulable", "convergence/deployment"),
        summary="4 critical: Deployment shop/orders: 2 of 5 pods Pending, FailedScheduling: "
        "0/5 nodes are available",
        says=("3 Insufficient memory", "2 of 4 pods updated, 3 available"),
        unsaid=("orders-77f6e5d4c-zz9x1", "3.0.4"),  # the pod already terminating
    ),
    # Namespaced app; a person changed the Deployment at 11:18, errors rose from 11:20.
    "ns-app-regression-after-hotfix": Story(
        "Degraded",
        checks=("change-attribution", "drift/human"),
        says=(
            "metric ledger-5xx-ratio: the regression began 2m after intent",
            "by mira@example.org at 2026-11-30T11:18:00Z",
        ),
        unsaid=("no declared change",),
    ),
    # Same app; nothing declared since the 06:00 sync, errors rose from 11:25.
    "ns-app-dependency-changed-underneath": Story(
        "Degraded",
        checks=("undeclared-change",),
        says=(
            "metric ledger-5xx-ratio moved from 2026-11-30T11:25:00Z with no declared change; "
            "the last declared change",
            "by system:serviceaccount:argocd:argocd-application-controller at "
            "2026-11-30T06:00:02Z, revision e1e2e3e), came 5h24m before it",
        ),
        unsaid=("holds no declared change",),
    ),
    # Helm chart + values repo; a finished rollout with what rollouts leave behind, and one pod
    # the kubelet evicted three minutes into the sync (disk pressure), replaced since.
    "multi-source-rollout-leftovers": Story(
        "Healthy",
        checks=("stability/evicted",),
        summary="Healthy with 1 warning: Deployment wiki/wiki: 1 pod evicted since sync: the node "
        "was low on resource: ephemeral-storage (container wiki using 1210Mi, request 0)",
    ),
    # -Xmx900m in a 1Gi limit: pods pass readiness, then get OOMKilled.
    "oomkill-crashloop-behind-ready-counts": Story(
        "Degraded",
        checks=("stability/crashloop", "stability/oomkilled"),
        summary="4 critical: Deployment pricing/pricing: CrashLoopBackOff in "
        "pricing-7c6b5a4d3-x9z8w/pricing (4 restarts, last OOMKilled, exit 137, memory limit 1Gi)",
        unsaid=("envoy",),
    ),
    # No ledger: managedFields date the change; a kubectl label on another ConfigMap is no
    # change of its data.
    "no-ledger-configmap-env-not-reloaded": Story(
        "Degraded",
        checks=("propagation/stale-config",),
        says=("2 of 2 pods still run the old ConfigMap kafka/connect-worker", "read via env,"),
        unsaid=("connect-jaas",),
    ),
    # The kubelet of node-7 stopped posting status three minutes ago.
    "node-unreachable-pods-stale": Story(
        "Degraded",
        checks=("controller-stale",),
        says=("kubelet on node node-7: NotReady (NodeStatusUnknown)", "inventory-6f5e4d3c2-aaaaa"),
        unsaid=("node-8",),
    ),
    # The container port was renamed from http to web; the Service still targets http.
    "service-targets-renamed-port": Story(
        "Degraded",
        checks=("reachability/endpoints",),
        summary="1 critical: Service edge/gateway has 0 ready endpoints; 2 ready pods match its "
        "selector, but none has a port named http (its targetPort)",
    ),
    # 3 -> 5 replicas; the storage quota refuses the claim of sessions-3, 17 times: each refusal
    # is written twice (the claim, then the pod that needs it).
    "statefulset-claim-refused-by-quota": Story(
        "Degraded",
        checks=("capacity/quota", "convergence/statefulset"),
        says=(
            "StatefulSet sessions/sessions: 3 of 5 pods created: exceeded quota storage "
            "(requested requests.storage=10Gi, used requests.storage=30Gi, limited "
            "requests.storage=32Gi) (FailedCreate x17)",
        ),
    ),
    # node-w3 is cordoned for maintenance; a DaemonSet pod stays there by design.
    "daemonset-on-cordoned-node": Story("Healthy", clean=True),
    # replicas: 0 in Git between monthly runs; its Service and its HPA (ScalingDisabled) stay.
    "service-of-workload-scaled-to-zero": Story("Healthy", clean=True),
    # Evidence from the PostSync hook while it runs, hooks included by the collector.
    "posthook-running-with-hooks-collected": Story("Healthy", clean=True),
    # A new app 40 s after its first sync: most statuses not written yet, zeros and nulls.
    "first-sync-statuses-not-written-yet": Story(
        "Progressing",
        checks=("convergence/deployment", "convergence/service"),
        summary="Progressing: Deployment status/status-page: 0 of 2 pods updated, 0 available "
        "(still converging, 40s after sync)",
    ),
    # A CronJob's claim on a WaitForFirstConsumer class before the CronJob's first run.
    "claim-waits-for-first-consumer": Story("Healthy", clean=True),
    # Self-heal put back two hand edits (each by a sync of its own); a third, on a field Argo
    # CD ignores, stays.
    "self-heal-reverted-hand-edits": Story(
        "Degraded",
        checks=("drift/human",),
        summary="1 critical: Deployment catalog/catalog-worker: changed out of band by "
        "sam@example.com at 2026-11-30T10:11:00Z (UPDATE /spec/replicas)",
        unsaid=("Deployment catalog/catalog:", "ConfigMap catalog/catalog-flags"),
    ),
    # Git renamed the DB Secret; the ExternalSecret never creates it. Three minutes in.
    "renamed-secret-never-created": Story(
        "Degraded",
        checks=("convergence/deployment",),
        summary="2 critical: Deployment accounts/accounts: 1 of 2 pods updated, 2 available: 1 "
        'CreateContainerConfigError (accounts-7f7f7f7f7f-zzzzz): secret "accounts-db-v2" not found',
        says=(
            "ExternalSecret accounts/accounts-db-v2: Ready=False for 2m57s: SecretSyncedError: "
            "could not get secret data from provider (still converging",
        ),
    ),
    # Audit, two days after the sync: a node added 50 s ago and an HPA scale-up a minute ago
    # have pods starting, one waiting for the node the cluster autoscaler adds.
    "audit-while-the-cluster-grows": Story(
        "Progressing",
        checks=("convergence/daemonset", "capacity/unschedulable"),
        says=("(still converging, started 50s ago)", "(still converging, started 57s ago)"),
    ),
    # On-call ran `kubectl rollout restart`; the new pods run what Git declares.
    "rollout-restart-by-hand": Story(
        "Healthy",
        checks=("drift/restart",),
        summary="Healthy with 1 warning: Deployment search/indexer: restarted by "
        "oncall-lee@example.com at 2026-11-30T12:20:14Z (kubectl rollout restart)",
        unsaid=("Git no longer describes it",),
    ),
    # A query_range answer pasted as Prometheus writes it ("0.0021", "NaN" at 0/0 in the
    # night); its recording rule stopped 20 minutes before the audit.
    "prometheus-answer-pasted-lagging": Story(
        "Healthy",
        checks=("data-lag",),
        summary="Healthy with 1 warning: metric quotes-error-ratio: newest point is 20m old at "
        "collection (bound 5m)",
    ),
    # A Helm checksum annotation rolls the Deployment with its envFrom ConfigMap; 90 s in.
    "checksum-rollout-delivers-new-config": Story(
        "Progressing",
        checks=("convergence/deployment",),
        unsaid=("still run the old ConfigMap",),
    ),
    # A sync-wave migration Job retried three times (OnFailure), then completed.
    "migration-job-succeeded-after-retries": Story("Healthy", clean=True),
    # A staging app on :main rolls to a new build of the same tag; two minutes in.
    "floating-tag-rollout-in-progress": Story(
        "Progressing",
        checks=("convergence/deployment",),
        unsaid=("re-pushed",),
    ),
    # Audit: the Vault role behind the Stripe key lost its policy at 09:31; the pods run on with
    # the Secret synced before, and Argo CD's last word on the app was Healthy.
    "external-secret-stopped-syncing": Story(
        "Degraded",
        checks=("readiness/custom-resource",),
        summary="1 critical: ExternalSecret payments/stripe-api: Ready=False for 30m: "
        "SecretSyncedError: could not get secret data from provider",
        says=("403. Errors: * permission denied",),
        unsaid=("Deployment payments/payments-api",),
    ),
    # Git turned on TLS for the docs Ingress; cert-manager's ingress-shim made the Certificate,
    # and the ACME order is pending a minute after the sync.
    "certificate-issuing-after-tls-enabled": Story(
        "Progressing",
        checks=("readiness/custom-resource",),
        summary="Progressing: Certificate docs/docs-tls: Ready=False for 58s: DoesNotExist: "
        "Issuing certificate as Secret does not exist (still converging, started 58s ago)",
    ),
    # The edge app's sync added its own ClusterIssuer (cluster-scoped) and two Certificates
    # naming it. Let's Encrypt refuses the account's contact address, so the issuer never turns
    # Ready and neither Certificate is issued; the proxy itself runs fine. Audit, 30m on.
    "cluster-issuer-not-ready-certificates-not-issued": Story(
        "Degraded",
        checks=("readiness/custom-resource",),
        summary="3 critical: ClusterIssuer letsencrypt-prod: Ready=False for 30m: "
        "ErrRegisterACMEAccount: Failed to register ACME account: 400 "
        "urn:ietf:params:acme:error:invalidContact",
        says=(
            'contact email "certs@shop.example" has invalid domain',
            "Certificate edge/shop-tls: Ready=False for 30m: DoesNotExist: Issuing certificate "
            "as Secret does not exist; waits on ClusterIssuer letsencrypt-prod, Ready=False: "
            "ErrRegisterACMEAccount",
            "Certificate edge/api-tls: Ready=False for 30m",
        ),
        unsaid=("None/", "Deployment edge/edge-proxy", "Service edge/edge-proxy"),
    ),
    # A topic shrunk by mistake (refused by Kafka since yesterday); Git put the partitions
    # back, and the topic operator has not read the new generation three minutes in.
    "kafka-topic-fix-not-yet-observed": Story(
        "Progressing",
        checks=("readiness/custom-resource", "staleness/generation"),
        says=(
            "KafkaTopic orders/order-events: Ready=False for 18h20m (reported for generation 4; "
            "generation 5 not observed yet): KafkaError: Decreasing partitions not supported",
        ),
    ),
    # The rules ConfigMap is immutable; Argo CD (Force=true,Replace=true) deleted and recreated it
    # with new weights at 14:00:02. The API pods mounted it whole yesterday and keep the old
    # files; the worker, rolled by its checksum annotation, and a changed mutable ConfigMap
    # (refreshed) are fine.
    "immutable-configmap-replaced-under-running-pods": Story(
        "Degraded",
        checks=("propagation/stale-config",),
        summary="1 critical: Deployment reviews/ratings: 3 of 3 pods still run the old ConfigMap "
        "reviews/ratings-rules (changed 2026-11-30T14:00:02Z; mounted as a volume, but the "
        "ConfigMap is immutable: the kubelet d",
        unsaid=("ratings-worker", "ratings-ui-strings", "ratings-tls"),
    ),
    # Audit 45 minutes after a successful sync: someone deleted the indexer Deployment; the
    # reindex Job went away by its ttlSecondsAfterFinished; a ConfigMap Git dropped was pruned.
    "indexer-deleted-out-of-band-after-sync": Story(
        "Degraded",
        checks=("staleness/missing",),
        summary="1 critical: Deployment search/search-indexer: applied at 1f2e3d4 by a sync Argo "
        "CD reports Succeeded, but not found live: deleted out of band (or by a controller); "
        "Argo CD shows it OutOfSync/Missing",
        says=("Job search/search-reindex: applied at 1f2e3d4",),
        unsaid=("search-synonyms-v1", "search-warmup", "search-api:"),
    ),
    # The sync raised the transcoder to 6; the memory quota refuses the fifth pod. The
    # replicaset controller wrote the refusal as two event objects: its first (count 1), then,
    # after the controller-manager restarted at 16:00:40, a new one whose series counted 23,
    # listed through both Event APIs. 24 refusals, each counted once.
    "replicaset-refusal-written-twice": Story(
        "Degraded",
        checks=("capacity/quota", "convergence/deployment"),
        summary="3 critical: Deployment media/transcoder: 4 of 6 pods created (ReplicaSet "
        "transcoder-7d9c8b6a5): exceeded quota media-compute",
        says=("limited limits.memory=16Gi) (FailedCreate x24)",),
        unsaid=("FailedCreate x23)", "FailedCreate x47"),
    ),
    # 2.8.1 was never pushed: the new pod backs off pulling it while 2.8.0 still serves and Argo
    # CD says Progressing, four minutes in. A pull failure does not heal by waiting.
    "image-tag-never-pushed": Story(
        "Degraded",
        checks=("convergence/deployment",),
        summary="2 critical: Deployment catalog/catalog-api: 1 of 3 pods updated, 3 available: 1 "
        "ImagePullBackOff",
        says=('Failed to pull image "registry.example.com/catalog/api:2.8.1": not found',),
        unsaid=("CrashLoopBackOff", "catalog-api-59c7b8d6f"),
    ),
    # 5.1.0 never passes its readiness probe; 600 s later the rollout is past its deadline.
    "progress-deadline-exceeded": Story(
        "Degraded",
        checks=("convergence/deployment",),
        summary="3 critical: Deployment ledger/ledger-web: rollout exceeded its progress deadline "
        "(600s) at 2026-12-01T06:10:03Z",
        says=("Readiness probe failed",),
    ),
    # The new build's init container refuses to start on the old schema (Init:CrashLoopBackOff).
    "init-container-crashloop": Story(
        "Degraded",
        checks=("stability/crashloop", "convergence/deployment"),
        says=("CrashLoopBackOff in init container", "schema version 41, this build needs 42"),
    ),
    # The PreSync migration Job hit its backoffLimit; Argo CD's operation Failed and applied
    # nothing else: the old Deployment still serves and is not blamed. The summary leads with
    # the hook and how its last pod ended; Argo CD's generic line follows, naming the step.
    "presync-migration-job-failed": Story(
        "Degraded",
        checks=("staleness/sync-failed", "staleness/sync-result"),
        summary="2 critical: Job billing/billing-migrate (PreSync hook) failed: Job has reached "
        "the specified backoff limit; last: billing-migrate-n2pcm/migrate: Error, exit 1: "
        "migration 0087_invoice_ref failed",
        says=(
            'column "invoice_ref" of relation "payments" already exists',
            "Argo CD sync of billing at 9b8a7c6 Failed: one or more synchronization tasks "
            "completed unsuccessfully; failed step: Job billing/billing-migrate (PreSync hook)",
        ),
        unsaid=("billing-api",),
    ),
    # The PostSync smoke test failed twice after everything was applied and healthy; truthgate's
    # own hooks (the PreSync mark, the PostSync verifier) ran fine beside it and are not named.
    "posthook-smoke-test-failed": Story(
        "Degraded",
        checks=("staleness/sync-result", "staleness/sync-failed"),
        summary="2 critical: Job billing/billing-smoke (PostSync hook) failed: Job has reached "
        "the specified backoff limit; last: billing-smoke-m2x8f/smoke: Error, exit 1: POST "
        "/v1/invoices: 500 Internal Server Error",
        says=(
            "Argo CD sync of billing at 9b8a7c6 Failed: one or more synchronization tasks "
            "completed unsuccessfully; failed step: Job billing/billing-smoke (PostSync hook)",
        ),
        unsaid=("truthgate-verify", "truthgate-mark-pending"),
    ),
    # Kyverno refused the new Deployment on apply (runAsNonRoot); Argo CD's operation repeats
    # the refusal after "reason:", kubectl's own prefix names a temporary file.
    "apply-refused-by-admission-webhook": Story(
        "Degraded",
        checks=("staleness/sync-result", "staleness/sync-failed"),
        summary="2 critical: Deployment billing/billing-api failed to apply: admission webhook "
        '"validate.kyverno.svc-fail" denied the request: resource Deployment/billing/billing-api '
        "was blocked due to the following",
        says=(
            "require-run-as-nonroot: run-as-non-root: 'validation error: Running as root is not "
            "allowed.",
            "Argo CD sync of billing at 9b8a7c6 Failed: one or more objects failed to apply; "
            "failed step: Deployment billing/billing-api",
        ),
        unsaid=("/dev/shm", "reason:", "truthgate-mark-pending"),
    ),
    # Someone terminated the sync (or its timeout did) while the migration ran; Argo CD deleted
    # the running hook Job and recorded it "Deleted". No step failed.
    "sync-terminated-during-presync-hook": Story(
        "Degraded",
        checks=("staleness/sync-failed",),
        summary="1 critical: Argo CD sync of billing at 9b8a7c6 Failed: Operation terminated; "
        "stopped in its PreSync phase; deleted while running: Job billing/billing-migrate "
        "(PreSync hook)",
        unsaid=("truthgate-mark-pending", "timeout"),
    ),
    # A minute into the sync the migration still runs; truthgate's own PreSync mark is done.
    "sync-running-presync-migration": Story(
        "Progressing",
        checks=("staleness/sync-running",),
        summary="Progressing: Argo CD sync of billing at 9b8a7c6 still Running, in its PreSync "
        "phase: Job billing/billing-migrate (PreSync hook) running",
        unsaid=("truthgate-mark-pending",),
    ),
    # A new StatefulSet asks for StorageClass fast-ssd, which this cluster does not have. Its
    # claim (no owner under the Retain policy, not tracked) is the app's through the set.
    "claim-storageclass-missing": Story(
        "Degraded",
        checks=("convergence/persistentvolumeclaim", "capacity/unschedulable"),
        summary="4 critical: StatefulSet analytics/clickhouse: 1 of 1 pods Pending on claim "
        'data-clickhouse-0 (ProvisioningFailed: storageclass.storage.k8s.io "fast-ssd" not found)',
        unsaid=("Preemption is not helpful",),
    ),
    # 1.9.0 asks for a 4Gi limit; the namespace LimitRange allows 2Gi per container.
    "limitrange-refuses-new-pods": Story(
        "Degraded",
        checks=("capacity/quota", "convergence/deployment"),
        summary="4 critical: Deployment reporting/report-renderer: 0 of 1 pods created",
        says=("maximum memory usage per Container is 2Gi, but limit is 4Gi (FailedCreate x18)",),
    ),
    # A launch: the HPA sits at maxReplicas with CPU far over target. Nothing failed; the
    # capacity is spent, which is a warning (docs: capacity/hpa-limited).
    "hpa-pinned-at-max-replicas": Story(
        "Healthy",
        checks=("capacity/hpa-limited",),
        says=(
            "capped at maxReplicas 10 since 2026-12-01T07:15:00Z",
            "cpu 243% of request (target 70%)",
        ),
    ),
    # A ConfigMap change (refreshed in place) points the gateway at an upstream zone b cannot
    # reach: half the pods fail readiness, endpoints shrink to 2.
    "readiness-failing-on-half-the-pods": Story(
        "Degraded",
        checks=("convergence/deployment",),
        says=("2 of 4 new pods available", "HTTP probe failed with statuscode: 503"),
        unsaid=("0 ready endpoints", "still run the old ConfigMap"),
    ),
    # Node memory pressure evicted two pods 40 minutes after the rollout; their replacements
    # serve on other nodes and the node has recovered. The counts are whole, so a warning: the
    # app uses 3.4Gi against a 1Gi request, and the next pressure evicts it first.
    "pods-evicted-under-memory-pressure": Story(
        "Healthy",
        checks=("stability/evicted",),
        summary="Healthy with 1 warning: Deployment ml/recommender: 2 pods evicted since sync: the "
        "node was low on resource: memory (container recommender using 3443Mi, request 1Gi); last "
        "at 2026-12-01T03:40:01Z",
        unsaid=("Evicted:", "convergence"),
    ),
    # 2.7.0 uses 900Mi against a 128Mi request: the kubelets of node-b and node-c evicted three
    # of its pods since the sync, the latest two minutes ago; its replacement is still warming
    # up, 2 of 3 available. A pod of the old build evicted last night is not this sync's.
    "pods-evicted-again-workload-short": Story(
        "Degraded",
        checks=("stability/evicted",),
        summary="1 critical: Deployment search/ranker: 3 pods evicted since sync, 2 of 3 available "
        "now: the node was low on resource: memory (container ranker using 896Mi, request 128Mi)",
        says=(
            "; last at 2026-12-01T14:27:40Z on nodes node-b, node-c",
            "(still converging, started 2m19s ago)",
        ),
        unsaid=("4 pods evicted", "3 Evicted", "ranker-5f7c6b4d3"),
    ),
    # Audit: finance on-call suspended the hourly invoice CronJob with kubectl patch.
    "cronjob-suspended-by-hand": Story(
        "Degraded",
        checks=("drift/human",),
        summary="1 critical: CronJob finance/invoice-run: changed out of band by "
        "priya.nair@corp.example at 2026-12-01T10:20:31Z (UPDATE /spec/suspend)",
    ),
    # The canary's analysis failed and Argo Rollouts aborted; the stable pods serve. A Rollout
    # has no Ready condition: Argo CD's health check of it (Degraded) is what says so, and
    # truthgate never reads Healthy where Argo CD's own health of an object says Degraded.
    "argo-rollout-aborted-by-analysis": Story(
        "Degraded",
        checks=("readiness/custom-resource",),
        summary="1 critical: Rollout checkout/checkout: Argo CD reports health Degraded: "
        "RolloutAborted: Rollout aborted update to revision 14",
        unsaid=("AnalysisRun",),
    ),
    # Ten minutes after a big sync: two rollouts done (old ReplicaSets at 0), a StatefulSet, a
    # CronJob, an HPA at its minimum, a PDB, an Ingress, a finished PreSync hook and a finished
    # sync-wave Job; Normal events only.
    "big-sync-all-converged": Story("Healthy", clean=True),
    # Errors quadruple after the sync; latency wobbles on its usual rhythm; the request counter
    # restarted with the pods; the declines query matched nothing.
    "error-ratio-up-beside-wobbling-latency": Story(
        "Degraded",
        checks=("baseline", "change-attribution"),
        summary="2 critical: orders-5xx-ratio up 4.1x",
        says=("orders-payment-declines: no data",),
        unsaid=("orders-p99-latency", "orders-requests"),
    ),
}


def _load(name: str) -> Any:
    return load_evidence((SCENARIOS / f"{name}.json").read_text())


def test_every_scenario_document_has_its_story() -> None:
    assert {p.stem for p in SCENARIOS.glob("*.json")} == set(STORIES)


@pytest.mark.parametrize("name", sorted(STORIES))
def test_truthgate_says_what_the_engineer_expects(name: str) -> None:
    story = STORIES[name]
    verdict = judge(_load(name))
    findings = verdict["findings"]
    assert verdict["verdict"] == story.verdict, verdict["summary"]
    assert len(verdict["summary"]) <= SUMMARY_LIMIT
    assert not [f for f in findings if f["check"].endswith("/error")]
    fired = {f["check"] for f in findings}
    assert set(story.checks) <= fired, fired
    if story.verdict == "Degraded":
        critical = {f["check"] for f in findings if f["severity"] == "critical"}
        assert set(story.checks) <= critical, critical
    else:
        assert not [f for f in findings if f["severity"] == "critical"], verdict["summary"]
    messages = [f["message"] for f in findings]
    for words in story.says:
        assert any(words in m for m in messages), (words, messages)
    for words in story.unsaid:
        assert not any(words in m for m in messages), (words, messages)
    assert verdict["summary"].startswith(story.summary), verdict["summary"]
    if story.clean:
        assert findings == [] and verdict["summary"].startswith("Healthy: no divergence found")


def test_a_multi_source_verdict_names_every_source_revision() -> None:
    verdict = judge(_load("multi-source-rollout-leftovers"))
    assert verdict["revision"] == "4.3.0,2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b"


def test_the_stuck_rollout_is_progressing_while_within_grace() -> None:
    doc = json.loads((SCENARIOS / "rollout-stuck-insufficient-memory.json").read_text())
    doc["collectedAt"] = "2026-11-30T13:03:00Z"  # three minutes after the sync
    verdict = judge(load_evidence(doc))
    assert verdict["verdict"] == "Progressing"
    assert verdict["summary"].startswith("Progressing: Deployment shop/orders: 2 of 5 pods Pending")


def test_a_cronjob_run_failing_now_is_degraded() -> None:
    doc = json.loads((SCENARIOS / "cronjob-failed-run-in-history.json").read_text())
    doc["objects"] = [
        o for o in doc["objects"] if o["metadata"]["name"] not in ("rollup-29407320",)
    ]
    doc["objects"][0]["status"].pop("lastSuccessfulTime")  # no run succeeded since the failure
    verdict = judge(load_evidence(doc))
    assert verdict["verdict"] == "Degraded"
    assert verdict["summary"].startswith(
        "1 critical: Job reports/rollup-29403015: failed (a run of CronJob rollup), "
        "BackoffLimitExceeded"
    )


def test_a_topic_left_on_its_old_generation_is_the_operator_lag_not_a_broken_topic() -> None:
    doc = json.loads((SCENARIOS / "kafka-topic-fix-not-yet-observed.json").read_text())
    doc["collectedAt"] = "2026-11-30T11:20:00Z"  # twenty minutes after the sync
    doc["application"]["status"]["reconciledAt"] = "2026-11-30T11:19:30Z"
    findings = judge(load_evidence(doc))["findings"]
    severity = {f["check"]: f["severity"] for f in findings}
    assert severity == {"staleness/generation": "critical", "readiness/custom-resource": "warning"}


def test_the_topic_still_refused_on_its_current_generation_is_degraded() -> None:
    doc = json.loads((SCENARIOS / "kafka-topic-fix-not-yet-observed.json").read_text())
    doc["collectedAt"] = "2026-11-30T11:20:00Z"
    doc["application"]["status"]["reconciledAt"] = "2026-11-30T11:19:30Z"
    doc["objects"][0]["status"]["observedGeneration"] = 5  # read, and still refused
    verdict = judge(load_evidence(doc))
    assert verdict["verdict"] == "Degraded"
    assert verdict["summary"].startswith(
        "1 critical: KafkaTopic orders/order-events: Ready=False for 18h37m: KafkaError"
    )


def test_without_a_ledger_the_creation_time_dates_the_replaced_configmap() -> None:
    doc = json.loads(
        (SCENARIOS / "immutable-configmap-replaced-under-running-pods.json").read_text()
    )
    del doc["intents"]
    [f] = judge(load_evidence(doc))["findings"]
    assert f["message"].startswith(
        "Deployment reviews/ratings: 3 of 3 pods still run the old ConfigMap reviews/ratings-rules "
        "(changed 2026-11-30T14:00:02Z; mounted as a volume, but the ConfigMap is immutable"
    )


def test_the_same_configmap_made_mutable_is_refreshed_in_place() -> None:
    doc = json.loads(
        (SCENARIOS / "immutable-configmap-replaced-under-running-pods.json").read_text()
    )
    for obj in doc["objects"]:
        obj.pop("immutable", None)
    for intent in doc["intents"]:
        intent["patch"] = [op for op in intent["patch"] if op["path"] != "/immutable"]
    assert judge(load_evidence(doc))["verdict"] == "Healthy"


def test_a_deployment_git_stopped_declaring_is_not_missing() -> None:
    doc = json.loads((SCENARIOS / "indexer-deleted-out-of-band-after-sync.json").read_text())
    status = doc["application"]["status"]
    status["resources"] = [r for r in status["resources"] if r["name"] != "search-indexer"]
    verdict = judge(load_evidence(doc))
    assert verdict["verdict"] == "Healthy"
    assert [f["message"].split(":")[0] for f in verdict["findings"]] == [
        "Job search/search-reindex"
    ]


def test_the_same_presync_migration_succeeding_leaves_nothing_to_say() -> None:
    doc = json.loads((SCENARIOS / "presync-migration-job-failed.json").read_text())
    status = doc["application"]["status"]
    op = status["operationState"]
    op.update(phase="Succeeded", message="successfully synced (all tasks run)")
    [hook] = op["syncResult"]["resources"]
    hook.update(hookPhase="Succeeded", message="Reached expected number of succeeded pods")
    status["sync"]["status"] = "Synced"
    for entry in status["resources"]:
        entry["status"] = "Synced"
    for obj in doc["objects"]:
        if obj["kind"] == "Job":
            obj["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        elif obj["kind"] == "Pod" and obj["status"]["phase"] == "Failed":
            obj["status"]["phase"] = "Succeeded"
    verdict = judge(load_evidence(doc))
    assert verdict["findings"] == [], verdict["summary"]
    assert verdict["verdict"] == "Healthy"
