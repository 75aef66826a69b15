"""The auditor's loop: re-verify every TruthCheck on its interval, between syncs.

Each pass (``tick``): hold the Lease (or stand by), list the TruthChecks of the namespaces it
is given, and for each one that is due and not being verified by a sync, collect an audit
Evidence (``trigger: audit``; metrics judged over the last window against what came before),
judge it with the same pure judge as the hook, and publish only news (see ``due``). A verdict
change is also recorded in the ledger.

Bounded everywhere: at most ``concurrency`` verifications at once, each API call with its
client's timeout, each pass ending before the next; a TruthCheck that fails (API, Prometheus,
a bad spec) is backed off exponentially, logged and counted, and never stops the others. An
API or Prometheus outage never crashes the auditor: it keeps the last verdict it published
(``lastVerifiedAt`` then ages, visibly) and tries again.

With ``informers`` (``informed.py``) verifications read their lists from watches shared by
every TruthCheck, and with ``triggers`` (``triggers.py``) a change to an application's
workloads, pods or Warning events brings its TruthChecks' audits forward. Both belong to the
active replica: a replica that loses (or never holds) the Lease stops its informers and
forgets its triggers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Literal, TypeVar

from webhooks.audit import due
from webhooks.audit.cache import PassCache
from webhooks.audit.informed import InformedReader
from webhooks.audit.lease import LeaseElector
from webhooks.audit.triggers import Triggers
from webhooks.checks import kube
from webhooks.checks.staleness import in_post_sync
from webhooks.cluster.api import ClusterReader, StatusWriter
from webhooks.cluster.informer import Informers
from webhooks.cluster.resources import TRUTHCHECK
from webhooks.common.argocd import CONTROL_PLANE_NAMESPACE, AppRef, tracked_app
from webhooks.common.times import format_time
from webhooks.errors import TruthgateError, short
from webhooks.evidence.model import Evidence, KubeObject, Verdict
from webhooks.ledger.store import IntentStore
from webhooks.postsync.appinfo import sync_ref
from webhooks.postsync.collect import Clock, Collector, Target, prometheus_source
from webhooks.postsync.publish import publish_status, verification_record, verified_status
from webhooks.verdict.freshness import AuditSettings, verified_stamp

log = logging.getLogger(__name__)

Judge = Callable[[Evidence], Verdict]
Outcome = Literal["published", "unchanged", "heartbeat", "skipped", "failed"]
MAX_BACKOFF = timedelta(minutes=30)
#: The pass's one ledger query for new intents reads at most this many records.
MAX_TRIGGER_INTENTS = 2000
_T = TypeVar("_T")


@dataclass(frozen=True)
class AuditResult:
    namespace: str
    name: str
    outcome: Outcome
    detail: str = ""
    verdict: str | None = None


@dataclass
class _Backoff:
    failures: int = 0
    until: datetime | None = None


@dataclass
class Auditor:
    reader: ClusterReader
    writer: StatusWriter
    judge: Judge
    clock: Clock
    namespaces: tuple[str, ...]
    ledger: IntentStore | None = None
    elector: LeaseElector | None = None
    concurrency: int = 4
    app_namespace: str = CONTROL_PLANE_NAMESPACE
    share_lists: bool = True  # one listing per (type, namespace) per pass (cache.py)
    informers: Informers | None = None  # lists from shared watches when current (informed.py)
    triggers: Triggers | None = None  # early audits on cluster changes (triggers.py)
    #: Metrics: called after each pass as the active replica, with its results and seconds.
    on_pass: Callable[[list[AuditResult], float], None] | None = None
    _last: dict[str, datetime] = field(default_factory=dict, init=False)
    _backoff: dict[str, _Backoff] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    # -- one pass --------------------------------------------------------------------------

    def tick(self) -> list[AuditResult]:
        now = self.clock.now()
        if self.elector is not None and not self.elector.try_acquire(now):
            self.stand_by()
            return []
        started = time.perf_counter()
        candidates: list[KubeObject] = []
        for ns in self.namespaces:
            try:
                candidates += self.reader.list_objects(TRUTHCHECK, ns)
            except TruthgateError as e:
                log.warning("cannot list TruthChecks in %s: %s", ns, short(e, 200))
        work: list[KubeObject] = []
        waiting: list[KubeObject] = []  # not due yet: a new intent may bring them forward
        results: list[AuditResult] = []
        for tc in candidates:
            key = self._key(tc)
            reason = due.skip_reason(tc)
            if reason is None:
                backoff = self._backoff.get(key)
                if backoff is not None and backoff.until is not None and now < backoff.until:
                    reason = f"backing off after {backoff.failures} failures"
            if reason is not None:
                results.append(AuditResult(*self._names(tc), "skipped", reason))
            elif due.is_due(tc, now, self._last.get(key)):
                work.append(tc)
            else:
                waiting.append(tc)
        early = self._triggered(waiting, now)
        early_keys = {self._key(tc) for tc in early}
        work += early
        work += self._changed([tc for tc in waiting if self._key(tc) not in early_keys], now)
        if work:
            # One listing per (type, namespace) for the whole pass (see cache.py), unless an
            # informer already holds it (informed.py).
            reader: ClusterReader = PassCache(self.reader) if self.share_lists else self.reader
            if self.informers is not None:
                reader = InformedReader(self.informers, reader)
            # A Prometheus that no request reached is asked once per pass, not once per
            # TruthCheck: each would wait out the collector's deadline (see prometheus.py).
            metrics = prometheus_source(reader, down={})
            collector = Collector(reader, clock=self.clock, ledger=self.ledger, metrics=metrics)
            # Collecting is I/O and runs in the pool; judging is CPU under the GIL and runs here,
            # one at a time, on the thread that owns the verdict policy's Rego engine.
            with ThreadPoolExecutor(
                max_workers=max(1, self.concurrency), thread_name_prefix="audit"
            ) as pool:
                gathered = list(
                    pool.map(lambda tc: self._guarded(tc, self._gather, collector), work)
                )
            results += [
                g if isinstance(g, AuditResult) else self._guarded(tc, self._conclude, g)
                for tc, g in zip(work, gathered, strict=True)
            ]
        if self.on_pass is not None:
            self.on_pass(results, time.perf_counter() - started)
        return results

    def run(self, stop: threading.Event, *, every: float = 10.0) -> None:
        """Pass after pass until ``stop`` is set (SIGTERM); a burst of cluster changes whose
        debounce ends between passes starts the next pass then."""
        try:
            while not stop.is_set():
                began = self.clock.now()
                try:
                    self.tick()
                except Exception:  # the loop must outlive any one bug
                    log.exception("audit pass failed")
                deadline = time.monotonic() + every
                while not stop.is_set() and time.monotonic() < deadline:
                    stop.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                    if self.triggers is not None and self.triggers.newly_ready(
                        began, self.clock.now()
                    ):
                        break
        finally:
            self.stand_by()

    def stand_by(self) -> None:
        """Not the active replica (or stopping): close the watches, forget the triggers."""
        if self.informers is not None and self.informers.all():
            log.info("standing by: stopping %d informers", len(self.informers.all()))
            self.informers.stop()
        if self.triggers is not None:
            self.triggers.clear()

    def _changed(self, waiting: list[KubeObject], now: datetime) -> list[KubeObject]:
        """The waiting TruthChecks whose application changed in the cluster after their last
        verification (``triggers.py``), at most one early audit per ``due.EARLY_FLOOR`` each.
        A burst is kept while a TruthCheck it concerns waits for that floor, else settled."""
        if self.triggers is None:
            return []
        ready = self.triggers.ready(now)
        if not ready:
            return []
        out: list[KubeObject] = []
        held: set[Any] = set()
        for tc in waiting:
            app = self._app(tc)
            if app is None:
                continue
            for ref, burst in ready.items():
                if not ref.same_app(app):
                    continue
                last = self._last_time(tc)
                if due.is_triggered(tc, now, self._last.get(self._key(tc)), burst.last):
                    ns, name = self._names(tc)
                    log.info("%s/%s: %s, audited early", ns, name, burst.reason)
                    out.append(tc)
                    break
                if last is not None and burst.last > last:
                    held.add(ref)  # changed since, but audited less than a floor ago
        for ref in ready:
            if ref not in held:
                self.triggers.settle(ref, now)
        return out

    def _triggered(self, waiting: list[KubeObject], now: datetime) -> list[KubeObject]:
        """The waiting TruthChecks whose application has an intent newer than their last
        verification: one ledger query per pass, from the oldest of those verifications, read
        up to ``MAX_TRIGGER_INTENTS`` records. A ledger that cannot answer triggers nothing
        (the interval still holds) and never fails the pass."""
        if self.ledger is None or not waiting:
            return []
        cut = due.intents_cut(self._last_time(tc) for tc in waiting)
        if cut is None:
            return []
        try:
            records = list(islice(self.ledger.intents(since=cut), MAX_TRIGGER_INTENTS))
        except Exception as e:  # a ledger outage costs the triggers, not the pass
            log.warning("cannot read new intents from the ledger: %s", short(repr(e), 200))
            return []
        if len(records) == MAX_TRIGGER_INTENTS:
            log.warning(
                "%d intents or more since %s: some TruthChecks may wait for their interval",
                MAX_TRIGGER_INTENTS,
                format_time(cut),
            )
        newest = due.newest_intents(records)
        out: list[KubeObject] = []
        for tc in waiting:
            app = self._app(tc)
            # Under each key the webhook may have recorded the app by (<ns>_<app> or <app>).
            keys = app.ledger_keys() if app is not None else ()
            intent = max((newest[k] for k in keys if k in newest), default=None)
            if due.is_triggered(tc, now, self._last.get(self._key(tc)), intent):
                ns, name = self._names(tc)
                log.info("%s/%s: a new intent of its application, audited early", ns, name)
                out.append(tc)
        return out

    def _last_time(self, truthcheck: KubeObject) -> datetime | None:
        known = [due.last_verified(truthcheck), self._last.get(self._key(truthcheck))]
        times = [t for t in known if t is not None]
        return max(times) if times else None

    # -- one TruthCheck --------------------------------------------------------------------

    def audit_one(self, truthcheck: KubeObject, collector: Collector) -> AuditResult:
        """Collect, judge and publish one TruthCheck (what a pass does for each, in two steps)."""
        gathered = self._guarded(truthcheck, self._gather, collector)
        if isinstance(gathered, AuditResult):
            return gathered
        return self._guarded(truthcheck, self._conclude, gathered)

    def _guarded(
        self, truthcheck: KubeObject, step: Callable[[KubeObject, Any], _T], arg: Any
    ) -> _T | AuditResult:
        """Run one step for one TruthCheck; a failure is its result, never the pass's."""
        ns, name = self._names(truthcheck)
        key = self._key(truthcheck)
        try:
            result = step(truthcheck, arg)
        except TruthgateError as e:
            return self._failed(key, ns, name, short(e, 300))
        except Exception as e:  # one odd TruthCheck must not stop the others
            log.exception("auditing %s/%s", ns, name)
            return self._failed(key, ns, name, short(repr(e), 300))
        if isinstance(result, AuditResult):
            with self._lock:
                self._last[key] = self.clock.now()
                self._backoff.pop(key, None)
        return result

    def _gather(self, truthcheck: KubeObject, collector: Collector) -> Evidence | AuditResult:
        ns, name = self._names(truthcheck)
        app = self._app(truthcheck)
        if app is None:
            return AuditResult(ns, name, "skipped", "names no Argo CD application")
        settings = AuditSettings.from_truthcheck(truthcheck)
        evidence = collector.collect(Target(app, ns, name, audit_window=settings.window))
        application = evidence.get("application") or {}
        phase = kube.get_str(application, "status", "operationState", "phase")
        if phase in ("Running", "Terminating") and not in_post_sync(application):
            return AuditResult(ns, name, "skipped", "a sync is running")
        return evidence

    def _conclude(self, truthcheck: KubeObject, evidence: Evidence) -> AuditResult:
        ns, name = self._names(truthcheck)
        app = self._app(truthcheck)
        assert app is not None  # _gather returned a result otherwise
        application = evidence.get("application") or {}
        verdict = self.judge(evidence)
        current = evidence.get("truthCheck") or truthcheck
        now = self.clock.now()
        news = due.is_news(current, verdict)
        if not news and not due.heartbeat_due(current, now):
            return AuditResult(ns, name, "unchanged", verdict=verdict["verdict"])
        sync = sync_ref(application)
        generation = kube.get_int(current, "metadata", "generation")

        def build(tc: KubeObject) -> dict[str, Any]:
            if news:
                return verified_status(verdict, tc, sync, now, generation=generation, by="audit")
            # a heartbeat: the same verdict, verified again
            return dict(tc.get("status") or {}) | verified_stamp(tc, now, "audit")

        published = publish_status(self.reader, self.writer, ns, name, build)
        if not published.written:
            return AuditResult(ns, name, "skipped", published.reason)
        if news and self.ledger is not None:
            self.ledger.append_verification(
                verification_record(
                    verdict,
                    app=app.name,
                    app_namespace=app.namespace or self.app_namespace,
                    truthcheck=current,
                    sync=sync,
                    now=now,
                )
            )
            log.info(
                "%s/%s: %s (audit): %s",
                ns,
                name,
                verdict["verdict"],
                short(verdict["summary"], 200),
            )
        return AuditResult(
            ns, name, "published" if news else "heartbeat", verdict=verdict["verdict"]
        )

    # -- helpers ---------------------------------------------------------------------------

    def _app(self, truthcheck: KubeObject) -> AppRef | None:
        spec = kube.get_dict(truthcheck, "spec")
        ref = tracked_app(truthcheck)
        name = spec.get("application") if isinstance(spec.get("application"), str) else None
        if name is None and ref is not None:
            name = ref.name
        if not name:
            return None
        app_ns = spec.get("applicationNamespace")
        if not isinstance(app_ns, str) or not app_ns:
            app_ns = (ref.namespace if ref is not None else None) or self.app_namespace
        return AppRef(name, app_ns)

    def _failed(self, key: str, ns: str, name: str, why: str) -> AuditResult:
        with self._lock:
            backoff = self._backoff.setdefault(key, _Backoff())
            backoff.failures += 1
            delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** min(backoff.failures - 1, 10)))
            backoff.until = self.clock.now() + delay
        log.warning("audit of %s/%s failed (retry in %s): %s", ns, name, delay, why)
        return AuditResult(ns, name, "failed", why)

    @staticmethod
    def _names(truthcheck: KubeObject) -> tuple[str, str]:
        return kube.namespace(truthcheck) or "", kube.name(truthcheck)

    @staticmethod
    def _key(truthcheck: KubeObject) -> str:
        return kube.uid(truthcheck) or "/".join(Auditor._names(truthcheck))
