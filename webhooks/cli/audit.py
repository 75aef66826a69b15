"""``truthgate audit``: re-verify TruthChecks between syncs, as a long-running controller.

Everything it does is in :mod:`webhooks.audit`; this module turns flags into the real parts
(cluster client, Lease, ledger, judge, metrics endpoint) and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import click

from webhooks.audit.auditor import Auditor, AuditResult
from webhooks.cli.options import cluster_options, verdict_policy_option
from webhooks.cli.verify import _judge_with, cluster_and_ledger
from webhooks.cluster.informer import Informers
from webhooks.common.argocd import CONTROL_PLANE_NAMESPACE
from webhooks.postsync.collect import SystemClock

log = logging.getLogger(__name__)


#: Seconds of one pass: from a fraction of a second (nothing due) to minutes (many TruthChecks).
PASS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def _metrics(
    port: int, address: str, informers: Informers | None
) -> Callable[[list[AuditResult], float], None]:
    """A /metrics endpoint, and the callback that updates it after every pass."""
    from prometheus_client import Counter, Gauge, Histogram, start_http_server

    last_pass = Gauge(
        "truthgate_audit_last_pass_timestamp_seconds",
        "When the auditor last finished a pass as the active replica.",
    )
    results = Counter(
        "truthgate_audit_results_total", "TruthChecks audited, by outcome.", ["outcome"]
    )
    duration = Histogram(
        "truthgate_audit_duration_seconds",
        "Seconds of one pass as the active replica.",
        buckets=PASS_BUCKETS,
    )
    watched = Gauge(
        "truthgate_audit_informers",
        "Informers (one watch per type and namespace) after the last pass, by whether lists "
        "are read from them (current) or from the API (listing).",
        ["state"],
    )
    start_http_server(port, addr=address)

    def update(done: list[AuditResult], seconds: float) -> None:
        last_pass.set_to_current_time()
        duration.observe(seconds)
        for r in done:
            results.labels(r.outcome).inc()
        running = informers.all() if informers is not None else []
        current = sum(i.usable for i in running)
        watched.labels("current").set(current)
        watched.labels("listing").set(len(running) - current)

    return update


@click.command(context_settings={"max_content_width": 100})
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    required=True,
    envvar="TRUTHGATE_AUDIT_NAMESPACES",
    metavar="NS",
    help="Namespace whose TruthChecks to audit (repeat, or space-separated in the env). "
    "[env TRUTHGATE_AUDIT_NAMESPACES]",
)
@click.option(
    "--app-namespace",
    default=CONTROL_PLANE_NAMESPACE,
    show_default=True,
    metavar="NS",
    help="Where the Applications live, for TruthChecks whose spec.applicationNamespace and "
    "tracking id name none.",
)
@click.option(
    "--ledger",
    envvar="TRUTHGATE_LEDGER",
    metavar="URL",
    help="Intent ledger: intents for undeclared-change and unrecorded-change; verdict changes "
    "are recorded there. [env TRUTHGATE_LEDGER]",
)
@cluster_options
@click.option(
    "--lease",
    metavar="NS/NAME",
    help="Hold this coordination.k8s.io Lease to be the one active replica (the chart sets it).",
)
@click.option(
    "--identity",
    default=lambda: os.environ.get("POD_NAME") or socket.gethostname(),
    show_default="$POD_NAME or the host name",
    help="This replica's name in the Lease.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Verifications at once.",
)
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=10,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between passes (each TruthCheck is audited on its own spec.audit.interval).",
)
@click.option("--metrics-port", type=int, default=0, help="Serve /metrics here (0: off).")
@click.option(
    "--metrics-address",
    default="0.0.0.0",  # noqa: S104 - scraped from other pods
    show_default=True,
    metavar="ADDR",
    help="Address of the /metrics endpoint.",
)
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Keep the audited applications' objects current through watches shared by every "
    "TruthCheck (needs the watch verb), and audit a TruthCheck early when its application's "
    "workloads, pods or Warning events change. --no-watch lists them on every pass.",
)
@click.option("--once", is_flag=True, help="One pass, print what it did as JSON lines, exit.")
@verdict_policy_option
def audit(  # noqa: PLR0917 - one parameter per flag is how click works
    namespaces: tuple[str, ...],
    app_namespace: str,
    ledger: str | None,
    kubeconfig: str | None,
    context: str | None,
    in_cluster: bool,
    server: str | None,
    lease: str | None,
    identity: str,
    concurrency: int,
    every: float,
    timeout: float,
    metrics_port: int,
    metrics_address: str,
    watch: bool,
    once: bool,
    verdict_policy: Path | None,
) -> None:
    """Re-verify every TruthCheck of the given namespaces between syncs.

    Each TruthCheck is verified again every spec.audit.interval (default 5m) with the same
    checks and verdict policy as the PostSync hook; its status is written only when the verdict
    or the findings change, so Argo CD shows a regression that surfaces hours after a sync.
    """
    import json

    from webhooks.audit.lease import LeaseElector
    from webhooks.audit.triggers import Triggers
    from webhooks.cluster.reader import connect
    from webhooks.cluster.resources import APP_OBJECT_TYPES

    spread = tuple(n for item in namespaces for n in item.split())
    lease_ref = lease.partition("/") if lease else None
    if lease_ref is not None and not (lease_ref[0] and lease_ref[2]):
        raise click.BadParameter("expected NAMESPACE/NAME", param_hint="--lease")
    judge = _judge_with(verdict_policy)
    with (
        cluster_and_ledger(kubeconfig, context, in_cluster, server, timeout, ledger) as (
            client,
            store,
        ),
        ExitStack() as stack,
    ):
        elector = (
            LeaseElector(client, client, lease_ref[0], lease_ref[2], identity)
            if lease_ref is not None
            else None
        )
        clock = SystemClock()
        informers, triggers = None, None
        if watch and not once:  # one pass has nothing to keep current
            # Its own connections: a watch holds one for minutes, never the verifications'.
            watcher = stack.enter_context(
                closing(
                    connect(
                        kubeconfig=kubeconfig,
                        context=context,
                        in_cluster=in_cluster,
                        server=server,
                        timeout=timeout,
                        pool_size=len(APP_OBJECT_TYPES) * len(spread) + 4,
                    )
                )
            )
            triggers = Triggers(clock)
            informers = Informers(watcher, frozenset(APP_OBJECT_TYPES))
            informers.on_change = triggers.observer(informers.find)
        auditor = Auditor(
            client,
            client,
            judge,
            clock,
            spread,
            ledger=store,
            elector=elector,
            concurrency=concurrency,
            app_namespace=app_namespace,
            on_pass=_metrics(metrics_port, metrics_address, informers) if metrics_port else None,
            informers=informers,
            triggers=triggers,
        )
        if once:
            for r in auditor.tick():
                row: dict[str, Any] = {
                    "namespace": r.namespace,
                    "name": r.name,
                    "outcome": r.outcome,
                }
                if r.verdict:
                    row["verdict"] = r.verdict
                if r.detail:
                    row["detail"] = r.detail
                click.echo(json.dumps(row))
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        log.info("auditing TruthChecks in %s as %s", ", ".join(spread), identity)
        auditor.run(stop, every=every)
