"""``truthgate verify``: post-sync verification of one Argo CD application.

Runs as Argo CD hook Jobs (PreSync with ``--phase pre-sync``, PostSync as is) or by hand.
Everything it does is in :mod:`webhooks.postsync.verify`; this module only turns flags and
environment into options, builds the real parts (cluster client, ledger, judge) and maps the
outcome to an exit code: 0 verified (or Degraded with ``onDivergence: degrade``), 1 Degraded with
``onDivergence: fail-sync``/``both``. A run that cannot verify — API unreachable, RBAC, no
Application or TruthCheck, truthgate uninstalled, a broken verdict policy, SIGTERM — prints one
line saying why and exits 0: truthgate is never the reason a sync stops. ``--strict`` (by hand,
in CI) exits 2 instead.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from webhooks.cli.options import cluster_options, verdict_policy_option
from webhooks.common.argocd import AppRef
from webhooks.errors import TruthgateError, short
from webhooks.evidence.model import Evidence, Verdict
from webhooks.postsync.collect import SystemClock
from webhooks.postsync.verify import HookPhase, Interrupted, Outcome, Verifier, VerifyOptions

if TYPE_CHECKING:
    from webhooks.cluster.reader import KubeClient
    from webhooks.ledger.store import IntentStore

log = logging.getLogger(__name__)

_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _self_pod() -> tuple[str, str] | None:
    """(namespace, name) of the Pod we run in, from the downward API or the Pod environment."""
    in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    name = os.environ.get("POD_NAME") or (os.environ.get("HOSTNAME") if in_pod else None)
    namespace = os.environ.get("POD_NAMESPACE")
    if namespace is None and in_pod and _SA_NAMESPACE.is_file():
        namespace = _SA_NAMESPACE.read_text(encoding="utf-8").strip()
    return (namespace, name) if name and namespace else None


def _judge_with(policy_dir: Path | None) -> Callable[[Evidence], Verdict]:
    """The judge, with the verdict policy loaded once (the shipped one unless a dir is given)."""
    from webhooks.verdict.judge import judge
    from webhooks.verdict.policy import VerdictPolicy

    policy = VerdictPolicy.from_dir(policy_dir) if policy_dir is not None else None

    def _judge(evidence: Evidence) -> Verdict:
        return judge(evidence, policy=policy)

    return _judge


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (a terminated sync, the Job's deadline) raises Interrupted where the run is, so
    it can still say on the TruthCheck that it did not finish instead of leaving Verifying."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted("the verification was stopped (SIGTERM) before it could judge")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _step_aside(phase: str, error: BaseException) -> None:
    reason = short(" ".join(str(error).split()) or type(error).__name__, 400)
    click.echo(f"truthgate: not verified ({phase}), the sync goes on: {reason}")


@click.command(context_settings={"max_content_width": 100})
@click.option(
    "--app",
    envvar="TRUTHGATE_APP",
    metavar="[NS/]NAME",
    help="Argo CD Application: NAME, or NS/NAME as the argocd CLI writes it. Default: found from this hook Pod's Job "
    "(tracking annotation or app.kubernetes.io/instance label). "
    "[env TRUTHGATE_APP]",
)
@click.option(
    "--app-namespace",
    envvar="TRUTHGATE_APP_NAMESPACE",
    metavar="NS",
    help="Namespace of the Application. Default: from the hook's tracking id, else the "
    "TruthCheck's spec.applicationNamespace, else argocd (without --app, a tracking id that "
    "names one wins over this flag too). [env TRUTHGATE_APP_NAMESPACE]",
)
@click.option(
    "--namespace",
    "-n",
    metavar="NS",
    help="Namespace of the TruthCheck. Default: this Pod's namespace, else the "
    "application's destination namespace.",
)
@click.option(
    "--truthcheck",
    metavar="NAME",
    help="TruthCheck name. Default: the one in the namespace whose spec.application names "
    "the app (or, without spec.application, that the app tracks).",
)
@click.option(
    "--ledger",
    envvar="TRUTHGATE_LEDGER",
    metavar="URL",
    help="Intent ledger (SQLite path, sqlite:…, postgresql://…): adds this sync's "
    "intents to the evidence and records the verification. Optional. "
    "[env TRUTHGATE_LEDGER]",
)
@cluster_options
@click.option(
    "--phase",
    type=click.Choice(["post-sync", "pre-sync"]),
    default="post-sync",
    show_default=True,
    help="pre-sync: only mark the TruthCheck Pending for the sync now starting.",
)
@click.option(
    "--save-evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the collected Evidence document (JSON) here; "
    "`truthgate replay FILE` judges it again offline.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep re-judging every --interval until the drift budget after the sync "
    "is spent (spec.baseline.driftBudget, else spec.observationWindow) or a "
    "newer sync starts.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between --watch rounds.",
)
@click.option("--no-wait", is_flag=True, help="Judge now; skip spec.observationWindow.")
@verdict_policy_option
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 2 when it cannot verify (by hand, in CI). Hooks leave it off: then any "
    "failure to verify prints why and exits 0.",
)
def verify(  # noqa: PLR0917 - one parameter per flag is how click works
    app: str | None,
    app_namespace: str | None,
    namespace: str | None,
    truthcheck: str | None,
    ledger: str | None,
    kubeconfig: str | None,
    context: str | None,
    in_cluster: bool,
    server: str | None,
    phase: HookPhase,
    save_evidence: Path | None,
    watch: bool,
    interval: float,
    no_wait: bool,
    timeout: float,
    verdict_policy: Path | None,
    strict: bool,
) -> None:
    """Verify that an Argo CD application really runs what its last sync declared.

    Finds the application and its TruthCheck, waits spec.observationWindow, collects one
    Evidence document (Application, intents, live objects, probes, metrics), judges it and
    writes the verdict to the TruthCheck's status, where Argo CD's health check shows it.

    \b
    Exit codes:
      0  verified (Healthy, or Degraded with onDivergence: degrade), or could not
         verify (no app, no TruthCheck, RBAC, API unreachable, bad spec): one line
         says why and the sync goes on
      1  Degraded and onDivergence is fail-sync or both: the hook fails the sync
      2  could not verify, with --strict
    """
    if sum(bool(x) for x in (kubeconfig, in_cluster, server)) > 1:
        raise click.UsageError("use only one of --kubeconfig, --in-cluster, --server")
    if phase == "pre-sync" and watch:
        raise click.UsageError("--watch belongs to the post-sync run")
    try:
        named = AppRef.from_cli(app, app_namespace) if app else None
    except ValueError as e:  # a hook's flag: it must not stop the sync either
        if strict:
            raise click.BadParameter(str(e), param_hint="--app") from e
        _step_aside(phase, e)
        return
    options = VerifyOptions(
        app=named.name if named else None,
        app_namespace=(named.namespace if named else None) or app_namespace or None,
        namespace=namespace,
        truthcheck=truthcheck,
        phase=phase,
        wait=not no_wait,
        watch=watch,
        interval_seconds=interval,
        save_evidence=save_evidence,
        self_pod=_self_pod(),
    )
    try:
        with _stop_on_sigterm():
            outcome = _run(
                options, verdict_policy, ledger, kubeconfig, context, in_cluster, server, timeout
            )
    except (Exception, Interrupted) as e:  # a bug must not stop a deploy either
        if not isinstance(e, TruthgateError):
            log.debug("verification failed", exc_info=True)
        if strict:
            click.echo(f"truthgate: error: {short(' '.join(str(e).split()), 400)}", err=True)
            raise click.exceptions.Exit(2) from e
        _step_aside(phase, e)
        return
    if outcome.verdict is None:
        click.echo(outcome.message)
        return
    verdict = outcome.verdict
    click.echo(f"{verdict['verdict']}: {verdict['summary']}")
    for finding in verdict.get("findings") or []:
        res = finding.get("resource")
        where = f" {res['kind']}/{res['name']}" if res else ""
        click.echo(f"  [{finding['severity']}] {finding['check']}{where}: {finding['message']}")
    if outcome.exit_code:
        click.echo("Degraded with onDivergence fail-sync/both: failing the hook", err=True)
        raise click.exceptions.Exit(outcome.exit_code)


def _run(  # noqa: PLR0917 - the connection flags, passed through
    options: VerifyOptions,
    verdict_policy: Path | None,
    ledger: str | None,
    kubeconfig: str | None,
    context: str | None,
    in_cluster: bool,
    server: str | None,
    timeout: float,
) -> Outcome:
    judge = _judge_with(verdict_policy)  # a broken policy fails before touching the cluster
    with cluster_and_ledger(kubeconfig, context, in_cluster, server, timeout, ledger) as (
        client,
        store,
    ):
        return Verifier(client, client, judge, SystemClock(), ledger=store).run(options)


@contextmanager
def cluster_and_ledger(  # noqa: PLR0917 - the connection flags, passed through
    kubeconfig: str | None,
    context: str | None,
    in_cluster: bool,
    server: str | None,
    timeout: float,
    ledger: str | None,
) -> Iterator[tuple[KubeClient, IntentStore | None]]:
    """The cluster client and, when a ledger URL is given, the ledger; both closed on exit
    (verify and audit share these connection flags)."""
    from webhooks.cluster.reader import connect

    client = connect(
        kubeconfig=kubeconfig,
        context=context,
        in_cluster=in_cluster,
        server=server,
        timeout=timeout,
    )
    store = None
    try:
        if ledger:
            from webhooks.ledger import open_store

            store = open_store(ledger, create=False)
        yield client, store
    finally:
        client.close()
        if store is not None:
            store.close()
