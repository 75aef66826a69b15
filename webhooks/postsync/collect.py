"""Collect: all the I/O of one verification, into ONE Evidence document.

The judge reads nothing but this document, so whatever truthgate knew when it judged is in it:
the Application (declared + controller-reported), the TruthCheck (what to check and how),
intents the admission webhook recorded since this sync started, the live objects of the
application (see ``scope``) and its custom resources (see ``custom``), truthgate's own probes
and the Prometheus metric windows. A saved Evidence document replays to the same verdict
offline.

Sections are optional by design: no ledger configured means no ``intents``; a TruthCheck without
``probes`` or ``baseline`` means no ``probes`` or ``metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from webhooks.baseline.spec import SecretKeyRef, check_spec, parse_baseline, spec_field
from webhooks.cluster.api import ClusterReader
from webhooks.cluster.errors import ForbiddenError
from webhooks.cluster.resources import APP_OBJECT_TYPES, APPLICATION, NODE, TRUTHCHECK, ResourceType
from webhooks.common.api import API_VERSION
from webhooks.common.argocd import AppRef, controller_namespace
from webhooks.common.times import format_time, try_parse_time
from webhooks.errors import ClusterError, LedgerError, short
from webhooks.evidence.model import Evidence, IntentRecord, KubeObject, MetricSeries, Probe
from webhooks.ledger.store import IntentStore
from webhooks.postsync.appinfo import (
    destination_namespaces,
    managed_keys,
    sync_ref,
)
from webhooks.postsync.custom import custom_objects
from webhooks.postsync.probes import ProbeSpec, parse_probes, run_probes
from webhooks.postsync.scope import select_app_objects

log = logging.getLogger(__name__)

MAX_NAMESPACES = 20
MAX_INTENTS = 5000
MAX_NODES = 50
INTENTS_LOOKBACK = timedelta(hours=24)  # when the Application names no sync start

ProbeRunner = Callable[[Sequence[ProbeSpec]], list[Probe]]
# (TruthCheck, change time, now) -> one MetricSeries per spec.baseline metric
MetricsSource = Callable[[KubeObject, datetime, datetime], list[MetricSeries]]


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC now."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class Target:
    """What one verification is about."""

    app: AppRef  # namespace always set here
    truthcheck_namespace: str
    truthcheck_name: str
    exclude_uids: frozenset[str] = frozenset()  # the verifying Job and Pod
    #: The auditor's window: metrics are judged over its last ``audit_window`` against what
    #: came before, instead of after-the-sync against before-the-sync. None: a sync's Evidence.
    audit_window: timedelta | None = None


def prometheus_source(
    reader: ClusterReader, down: MutableMapping[str, str] | None = None
) -> MetricsSource:
    """The baseline collector, with Secret references resolved through the cluster reader.

    ``down``: Prometheus servers found unreachable, shared by the verifications of one audit
    pass (see ``collect_metrics``)."""

    def fetch(truthcheck: KubeObject, change_at: datetime, now: datetime) -> list[MetricSeries]:
        from webhooks.postsync.prometheus import collect_metrics

        config = parse_baseline(truthcheck.get("spec") or {})
        if config is None:
            return []
        namespace = str(truthcheck["metadata"]["namespace"])

        def secret(ref: SecretKeyRef | None, what: str) -> str | None:
            if ref is None:
                return None
            value = reader.secret_value(namespace, ref.name, ref.key)
            if value is None:
                raise ClusterError(
                    f"spec.baseline.prometheus.{what}: Secret {namespace}/{ref.name} has no key "
                    f"{ref.key!r} (or does not exist)"
                )
            return value

        token = secret(config.prometheus.bearer_token_secret_ref, "bearerTokenSecretRef")
        ca = secret(config.prometheus.tls.ca_secret_ref, "tls.caSecretRef")
        return collect_metrics(
            config,
            change_at,
            now,
            bearer_token=token,
            ca_data=ca.encode() if ca is not None else None,
            down=down,
        )

    return fetch


def _workloads(truthcheck: KubeObject, namespace: str) -> frozenset[tuple[str, str, str]] | None:
    listed = spec_field(truthcheck.get("spec") or {}, "workloads")
    if not listed:
        return None
    return frozenset((w["kind"], w.get("namespace") or namespace, w["name"]) for w in listed)


@dataclass
class Collector:
    reader: ClusterReader
    clock: Clock = field(default_factory=SystemClock)
    ledger: IntentStore | None = None
    probes: ProbeRunner = run_probes
    metrics: MetricsSource | None = None  # None: the Prometheus collector over ``reader``
    # What the last collect could not read (RBAC withheld it), for the verdict's summary.
    gaps: list[str] = field(default_factory=list)

    def application(self, app: AppRef) -> KubeObject:
        obj = self.reader.get_object(APPLICATION, app.namespace, app.name)
        if obj is None:
            raise ClusterError(
                f"Argo CD Application {app.namespace}/{app.name} not found "
                "(check --app and --app-namespace)"
            )
        return obj

    def truthcheck(self, namespace: str, name: str) -> KubeObject:
        obj = self.reader.get_object(TRUTHCHECK, namespace, name)
        if obj is None:
            raise ClusterError(f"TruthCheck {namespace}/{name} not found")
        return obj

    def collect(self, target: Target) -> Evidence:
        app = self.application(target.app)
        truthcheck = self.truthcheck(target.truthcheck_namespace, target.truthcheck_name)
        check_spec(truthcheck.get("spec") or {})  # the whole spec against the CRD, before any I/O
        sync = sync_ref(app)
        now = self.clock.now()
        audit = target.audit_window is not None
        if target.audit_window is not None:
            change_at = now - target.audit_window
        else:
            change_at = try_parse_time(sync.started_at) or now

        namespaces = destination_namespaces(app)
        if target.truthcheck_namespace not in namespaces:
            namespaces.append(target.truthcheck_namespace)
        if len(namespaces) > MAX_NAMESPACES:
            log.warning(
                "application spans %d namespaces: reading the first %d",
                len(namespaces),
                MAX_NAMESPACES,
            )
            namespaces = namespaces[:MAX_NAMESPACES]
        self.gaps = []
        live = [
            obj for ns in namespaces for rtype in APP_OBJECT_TYPES for obj in self._list(rtype, ns)
        ]
        objects = select_app_objects(
            target.app,
            managed_keys(app),
            live,
            target.exclude_uids,
            workloads=_workloads(truthcheck, target.truthcheck_namespace),
        )
        objects += _new(objects, custom_objects(self.reader, app, self.gaps))

        if audit:
            objects += self._nodes(objects)
        evidence: Evidence = {
            "apiVersion": API_VERSION,
            "kind": "Evidence",
            "trigger": "audit" if audit else "sync",
            "collectedAt": format_time(now),
            "application": app,
            "truthCheck": truthcheck,
            "objects": objects,
        }
        if self.ledger is not None:
            # An audit looks for the change a regression followed across the whole lookback.
            since = (None if audit else try_parse_time(sync.started_at)) or now - INTENTS_LOOKBACK
            try:
                evidence["intents"] = self._intents(target.app, since, _control_plane(app))
            except LedgerError as e:
                # No intents section means "no ledger": the checks then claim nothing about
                # declared or unrecorded changes, rather than reading an outage as "none".
                log.warning("ledger unreadable, verifying without intents: %s", short(e, 200))
                self.gaps.append("intents (the ledger could not be read)")
        spec = truthcheck.get("spec") or {}
        probe_specs = parse_probes(spec)
        if probe_specs:
            evidence["probes"] = self.probes(probe_specs)
        if spec.get("baseline") is not None:
            source = self.metrics or prometheus_source(self.reader)
            evidence["metrics"] = source(truthcheck, change_at, now)
        return evidence

    def _list(self, rtype: ResourceType, namespace: str) -> list[KubeObject]:
        """One type's objects; a type RBAC withholds (verifier.rbac.readSecrets=false, say) is
        left out and noted: the rest still tells the truth about the application."""
        try:
            return self.reader.list_objects(rtype, namespace)
        except ForbiddenError:
            gap = f"{rtype.plural} in {namespace} (forbidden)"
            log.warning("not allowed to list %s: verifying without them", gap)
            self.gaps.append(gap)
            return []

    def _nodes(self, objects: list[KubeObject]) -> list[KubeObject]:
        """The nodes the application's pods run on (cluster-scoped, read one by one; a reader
        without RBAC for nodes yields none: the node check then has nothing to say)."""
        names = sorted(
            {
                str(node)
                for o in objects
                if o.get("kind") == "Pod"
                and isinstance(node := (o.get("spec") or {}).get("nodeName"), str)
            }
        )[:MAX_NODES]
        out: list[KubeObject] = []
        for name in names:
            try:
                node = self.reader.get_object(NODE, None, name)
            except ForbiddenError:
                log.info("no RBAC to read nodes: the auditor judges without them")
                return []
            if node is not None:
                out.append(node)
        return out

    def _intents(
        self, app: AppRef, since: datetime, control_plane: frozenset[str] | None
    ) -> list[IntentRecord]:
        """The app's intents since ``since``, oldest first, under each key the webhook may
        have recorded it by (``<ns>_<app>`` for an application outside Argo CD's namespace;
        only that key when the Application says where Argo CD runs)."""
        assert self.ledger is not None
        records: list[IntentRecord] = []
        for key in app.ledger_keys(control_plane):
            for record in self.ledger.intents(app=key, since=since):
                records.append(record)
                if len(records) > 2 * MAX_INTENTS:
                    records = _latest(records)
        return _latest(records)


def _control_plane(app: KubeObject) -> frozenset[str] | None:
    namespace = controller_namespace(app)
    return frozenset({namespace}) if namespace else None


def _new(objects: list[KubeObject], extra: list[KubeObject]) -> list[KubeObject]:
    """``extra`` without the objects (by uid) ``objects`` already holds."""
    uids = {(o.get("metadata") or {}).get("uid") for o in objects} - {None}
    out: list[KubeObject] = []
    for obj in extra:
        uid = (obj.get("metadata") or {}).get("uid")
        if uid is None or uid not in uids:
            uids.add(uid)
            out.append(obj)
    return out


def _latest(records: list[IntentRecord]) -> list[IntentRecord]:
    """In time order, the latest ``MAX_INTENTS``: they describe this sync's end state."""
    epoch = datetime.min.replace(tzinfo=UTC)
    records.sort(key=lambda r: try_parse_time(r.get("time")) or epoch)
    return records[-MAX_INTENTS:]
