"""One post-sync verification, end to end: locate → (wait) → collect → judge → publish.

``truthgate verify`` runs as an Argo CD hook Job in the application's namespace. Argo CD does
not tell a hook which application it belongs to, so unless told (``--app``) the verifier reads
its own Pod, the Job owning it, and the Job's tracking annotation (or instance label).

Lifecycle (docs/truthcheck.md has the why):

* ``pre-sync`` — mark the TruthCheck ``Pending`` for the sync now starting. Argo CD waits for
  every resource of a sync to be Healthy (and fails the sync on Degraded) before PostSync hooks
  run; without this mark the previous sync's Degraded verdict would fail the very sync that
  fixes it.
* ``post-sync`` — mark ``Verifying``, wait out ``spec.observationWindow``, collect one Evidence
  document, judge it, publish the verdict. With ``watch``, keep re-judging every ``interval``
  until the drift budget after the sync is spent, or a newer sync starts.

The exit code follows ``spec.onDivergence``: ``degrade`` exits 0 even when Degraded (the
health check shows it), ``fail-sync``/``both`` exit 1 on Degraded so the hook fails the sync.
Nothing else fails a sync: when truthgate cannot judge (API, RBAC, no TruthCheck, a stopped
run) the run raises, says so on the TruthCheck where it still can (verdict ``Unknown``, which
the health check shows without hiding the application's other health) and the CLI steps aside.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

from webhooks.baseline.spec import check_spec, spec_field
from webhooks.cluster.api import ClusterReader, StatusWriter
from webhooks.cluster.resources import JOB, POD, TRUTHCHECK
from webhooks.common.api import API_VERSION
from webhooks.common.argocd import CONTROL_PLANE_NAMESPACE, AppRef, tracked_app
from webhooks.common.durations import duration_field
from webhooks.common.times import try_parse_time
from webhooks.errors import BadRequestError, ClusterError, TruthgateError, short
from webhooks.evidence.model import Evidence, KubeObject, Verdict
from webhooks.ledger.store import IntentStore
from webhooks.postsync.appinfo import SyncRef, sync_ref
from webhooks.postsync.collect import Clock, Collector, Target
from webhooks.postsync.publish import (
    Published,
    pending_status,
    publish_status,
    verification_record,
    verified_status,
    verifying_status,
)
from webhooks.verdict.digest import evidence_digest
from webhooks.verdict.load import dumps_evidence

log = logging.getLogger(__name__)

Judge = Callable[[Evidence], Verdict]
HookPhase = Literal["pre-sync", "post-sync"]
DivergenceAction = Literal["degrade", "fail-sync", "both"]

DEFAULT_WINDOW = timedelta(minutes=2)
EXIT_OK = 0
EXIT_DEGRADED = 1  # errors exit 2, through the CLI's TruthgateError handler


@dataclass(frozen=True)
class VerifyOptions:
    app: str | None = None
    # None: from tracking, the TruthCheck, else CONTROL_PLANE_NAMESPACE
    app_namespace: str | None = None
    namespace: str | None = None  # where the TruthCheck lives
    truthcheck: str | None = None
    phase: HookPhase = "post-sync"
    wait: bool = True
    watch: bool = False
    interval_seconds: float = 60.0
    save_evidence: Path | None = None
    self_pod: tuple[str, str] | None = None  # (namespace, name) of the Pod running us


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    verdict: Verdict | None
    message: str
    rounds: int = 0


class Interrupted(BaseException):
    """The run was told to stop (SIGTERM from a terminated sync or the Job's deadline).

    A BaseException, like KeyboardInterrupt: code that contains errors with ``except
    Exception`` (one failing check, one failing probe) must not swallow it.
    """


@dataclass
class Located:
    app: AppRef
    truthcheck: KubeObject
    exclude_uids: frozenset[str] = field(default_factory=frozenset)


def _duration(value: object, path: str, default: timedelta) -> timedelta:
    return default if value is None else duration_field(value, path)


def divergence_action(truthcheck: KubeObject) -> DivergenceAction:
    value = spec_field(truthcheck.get("spec") or {}, "onDivergence")
    return cast(DivergenceAction, value or "degrade")


def exit_code_for(verdict: Verdict, action: DivergenceAction) -> int:
    if verdict["verdict"] == "Degraded" and action in ("fail-sync", "both"):
        return EXIT_DEGRADED
    return EXIT_OK


def save_evidence(path: Path, evidence: Evidence) -> None:
    """Write atomically: a reader never sees half a document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(dumps_evidence(evidence, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Verifier:
    reader: ClusterReader
    writer: StatusWriter
    judge: Judge
    clock: Clock
    ledger: IntentStore | None = None
    collector: Collector | None = None

    def __post_init__(self) -> None:
        if self.collector is None:
            self.collector = Collector(self.reader, clock=self.clock, ledger=self.ledger)

    # -- locating ------------------------------------------------------------------------

    def locate(self, options: VerifyOptions, *, required: bool = True) -> Located | None:
        exclude: set[str] = set()
        tracked: AppRef | None = None
        pod_namespace: str | None = None
        if options.self_pod is not None:
            pod_namespace, pod_name = options.self_pod
            tracked = self._own_identity(pod_namespace, pod_name, exclude)
        if options.app:
            app = AppRef(options.app, options.app_namespace)
        elif tracked is not None:
            app = AppRef(tracked.name, tracked.namespace or options.app_namespace)
        else:
            raise BadRequestError(
                "cannot tell which Argo CD application to verify: pass --app (or set "
                "TRUTHGATE_APP), or run in a hook Pod whose Job carries Argo CD's tracking "
                "annotation (set POD_NAME and POD_NAMESPACE from the downward API)"
            )
        namespace = options.namespace or pod_namespace
        if namespace is None:
            assert self.collector is not None
            found = self.collector.application(_resolved(app))
            dest = (found.get("spec") or {}).get("destination") or {}
            namespace = dest.get("namespace") if isinstance(dest.get("namespace"), str) else None
        if namespace is None:
            raise BadRequestError("cannot tell the TruthCheck's namespace: pass --namespace")
        truthcheck = self._find_truthcheck(app, namespace, options.truthcheck, required)
        if truthcheck is None:
            return None
        if app.namespace is None:
            # The hook knew only the name: the TruthCheck may say where the Application lives.
            named = (truthcheck.get("spec") or {}).get("applicationNamespace")
            app = AppRef(app.name, named if isinstance(named, str) and named else None)
        return Located(_resolved(app), truthcheck, frozenset(exclude))

    def _own_identity(self, namespace: str, name: str, exclude: set[str]) -> AppRef | None:
        pod = self.reader.get_object(POD, namespace, name)
        if pod is None:
            log.warning("own Pod %s/%s not found: cannot read the hook's tracking", namespace, name)
            return None
        exclude.add(str(pod["metadata"].get("uid")))
        for owner in pod["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == "Job" and isinstance(owner.get("name"), str):
                job = self.reader.get_object(JOB, namespace, owner["name"])
                if job is not None:
                    exclude.add(str(job["metadata"].get("uid")))
                    return tracked_app(job) or tracked_app(pod)
        return tracked_app(pod)

    def _find_truthcheck(
        self, app: AppRef, namespace: str, name: str | None, required: bool
    ) -> KubeObject | None:
        if name is not None:
            found = self.reader.get_object(TRUTHCHECK, namespace, name)
            if found is None and required:
                raise ClusterError(f"TruthCheck {namespace}/{name} not found")
            return found
        matches = []
        for tc in self.reader.list_objects(TRUTHCHECK, namespace):
            spec = tc.get("spec") or {}
            if spec.get("application") is not None:
                # Match on what the hook knows: the name always, the namespace only when both
                # the TruthCheck and the hook (flag or tracking id) name one.
                named = spec.get("applicationNamespace")
                same_ns = not named or app.namespace is None or named == app.namespace
                if spec["application"] == app.name and same_ns:
                    matches.append(tc)
            elif (ref := tracked_app(tc)) is not None and ref.same_app(app):
                matches.append(tc)
        if len(matches) > 1:
            names = ", ".join(sorted(str(m["metadata"]["name"]) for m in matches))
            raise BadRequestError(
                f"several TruthChecks in {namespace} name application {app.name} ({names}): "
                "pass --truthcheck"
            )
        if not matches:
            if required:
                raise ClusterError(
                    f"no TruthCheck in namespace {namespace} for application {app.name}: "
                    "add one next to the manifests (spec.application: "
                    f"{app.name}) or pass --truthcheck"
                )
            return None
        return matches[0]

    # -- running -------------------------------------------------------------------------

    def run(self, options: VerifyOptions) -> Outcome:
        if options.phase == "pre-sync":
            return self._pre_sync(options)
        located = self.locate(options)
        assert located is not None and self.collector is not None
        tc_meta = located.truthcheck["metadata"]
        ns, name = str(tc_meta["namespace"]), str(tc_meta["name"])
        sync = SyncRef(None, None, None, None)
        try:
            spec = check_spec(located.truthcheck.get("spec") or {})
            action = divergence_action(located.truthcheck)
            window = _duration(
                spec.get("observationWindow"), "spec.observationWindow", DEFAULT_WINDOW
            )
            sync = sync_ref(self.collector.application(located.app))
            target = Target(located.app, ns, name, located.exclude_uids)

            if options.wait and window > timedelta(0):
                until = self.clock.now() + window
                self._publish(
                    ns, name, lambda tc: verifying_status(tc, sync, self.clock.now(), until)
                )
                log.info("observing %s for %s before judging", located.app.name, window)
                self.clock.sleep(window.total_seconds())

            verdict, published = self._round(target, sync, options)
            if verdict is None:
                return Outcome(EXIT_OK, None, published, 1)
            rounds = 1
            if options.watch:
                verdict, rounds, why = self._watch(
                    target, sync, spec, window, verdict=verdict, options=options
                )
                log.info("watch ended after %d rounds: %s", rounds, why)
        except (TruthgateError, Interrupted) as e:
            # Say so on the TruthCheck too: a silent hook hides the problem, and a status
            # left at Verifying would show the application Progressing for ever.
            self._not_verified(ns, name, sync, e)
            raise
        return Outcome(exit_code_for(verdict, action), verdict, verdict["summary"], rounds)

    def _not_verified(self, namespace: str, name: str, sync: SyncRef, error: BaseException) -> None:
        """Best effort: publish verdict Unknown with the reason; never raises."""
        failed = _unknown(f"Not verified: {short(error, 300)}", sync)
        try:
            self._publish(
                namespace, name, lambda tc: verified_status(failed, tc, sync, self.clock.now())
            )
        except Exception as e:  # the API may be what failed in the first place
            log.warning("could not record on TruthCheck %s/%s why: %s", namespace, name, short(e))

    def _pre_sync(self, options: VerifyOptions) -> Outcome:
        located = self.locate(options, required=False)
        if located is None:
            # First install: the TruthCheck (or its CRD) arrives with this very sync.
            return Outcome(EXIT_OK, None, "no TruthCheck yet: nothing to mark")
        assert self.collector is not None
        meta = located.truthcheck["metadata"]
        sync = sync_ref(self.collector.application(located.app))
        result = self._publish(
            str(meta["namespace"]),
            str(meta["name"]),
            lambda tc: pending_status(tc, sync, self.clock.now()),
        )
        return Outcome(EXIT_OK, None, result.reason or "marked Pending")

    def _round(
        self, target: Target, sync: SyncRef, options: VerifyOptions
    ) -> tuple[Verdict | None, str]:
        """Collect, judge, publish once. (None, why) when a newer sync took over."""
        assert self.collector is not None
        ns, name = target.truthcheck_namespace, target.truthcheck_name
        evidence = self.collector.collect(target)
        now_sync = sync_ref(evidence.get("application") or {})
        if _newer(now_sync, sync):
            return None, f"a newer sync started at {now_sync.started_at}: not publishing"
        if options.save_evidence is not None:
            save_evidence(options.save_evidence, evidence)
        verdict = self.judge(evidence)
        if self.collector.gaps:
            verdict = _with_gaps(verdict, self.collector.gaps)
        generation = ((evidence.get("truthCheck") or {}).get("metadata") or {}).get("generation")
        result = self._publish(
            ns,
            name,
            lambda tc: verified_status(
                verdict,
                tc,
                sync,
                self.clock.now(),
                generation=generation if isinstance(generation, int) else None,
            ),
        )
        if not result.written:
            return None, result.reason
        if self.ledger is not None:
            self.ledger.append_verification(
                verification_record(
                    verdict,
                    app=target.app.name,
                    app_namespace=target.app.namespace,
                    truthcheck=evidence.get("truthCheck") or {},
                    sync=sync,
                    now=self.clock.now(),
                    digest=evidence_digest(evidence),
                )
            )
        log.info(
            "%s: %s (%d findings)",
            target.app.name,
            verdict["verdict"],
            len(verdict.get("findings") or []),
        )
        return verdict, ""

    def _watch(
        self,
        target: Target,
        sync: SyncRef,
        spec: dict[str, Any],
        window: timedelta,
        *,
        verdict: Verdict,
        options: VerifyOptions,
    ) -> tuple[Verdict, int, str]:
        budget = _duration(
            (spec.get("baseline") or {}).get("driftBudget"), "spec.baseline.driftBudget", window
        )
        closed = try_parse_time(sync.finished_at) or self.clock.now()
        deadline = closed + budget
        rounds = 1
        interval = max(1.0, options.interval_seconds)
        while True:
            left = (deadline - self.clock.now()).total_seconds()
            if left <= 0:
                return verdict, rounds, "drift budget spent"
            self.clock.sleep(min(interval, left))
            assert self.collector is not None
            if _newer(sync_ref(self.collector.application(target.app)), sync):
                return verdict, rounds, "a newer sync started"
            latest, why = self._round(target, sync, options)
            if latest is None:
                return verdict, rounds, why
            verdict, rounds = latest, rounds + 1

    def _publish(
        self, namespace: str, name: str, build: Callable[[KubeObject], dict[str, Any]]
    ) -> Published:
        result = publish_status(self.reader, self.writer, namespace, name, build)
        if not result.written:
            log.warning("TruthCheck %s/%s: %s", namespace, name, result.reason)
        return result


def _newer(now: SyncRef, verified: SyncRef) -> bool:
    a, b = try_parse_time(now.started_at), try_parse_time(verified.started_at)
    return a is not None and b is not None and a > b


def _resolved(app: AppRef) -> AppRef:
    return app if app.namespace else AppRef(app.name, CONTROL_PLANE_NAMESPACE)


def _with_gaps(verdict: Verdict, gaps: list[str]) -> Verdict:
    """The verdict, its summary saying what could not be looked at."""
    note = "not looked at: " + "; ".join(gaps)
    return {**verdict, "summary": f"{verdict['summary']} ({note})"}


def _unknown(summary: str, sync: SyncRef) -> Verdict:
    return {
        "apiVersion": API_VERSION,
        "kind": "Verdict",
        "verdict": "Unknown",
        "revision": sync.revision,
        "summary": summary,
        "findings": [],
    }
