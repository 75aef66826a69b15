"""``truthgate serve``: the validating admission webhook under gunicorn, over TLS.

Everything is checked in the master before a worker forks, so a mistake is one clear line and
exit 2 rather than a crash loop: the policy directory compiles, the enforcement file parses, the
TLS pair exists (or a self-signed one is made), the ledger URL is well formed. A ledger that is
merely down does not stop the start: reviews then follow the failure mode and /readyz says 503
until it answers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from webhooks.admission.config import FailureMode
from webhooks.cli.options import admission_options, admission_settings
from webhooks.errors import BadRequestError, LedgerError, TruthgateError, short
from webhooks.policy.gatekeeper.inventory import InventoryCache
from webhooks.policy.gatekeeper.namespaces import NamespaceLabels

if TYPE_CHECKING:
    from webhooks.ledger.store import IntentStore

log = logging.getLogger("truthgate.server")

DEFAULT_BIND = "127.0.0.1:8443"
DEFAULT_LEDGER = "truthgate.db"
DEFAULT_RETENTION_DAYS = (
    90  # retention is on unless asked otherwise: a ledger must not fill its disk
)
# A minimal policy input: enough for every policy to be compiled on the warming thread.
WARM_INPUT = {
    "request": {
        "uid": "warm-up",
        "operation": "CREATE",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "userInfo": {"username": "truthgate:warm-up"},
        "object": {},
    },
    "truthgate": {
        "app": None,
        "managed": False,
        "patch": [],
        "specChanged": False,
        "actor": {"username": "truthgate:warm-up", "groups": [], "class": "unknown"},
        "breakGlass": None,
    },
}


def _read_token(path: Path | None) -> str | None:
    """The read API's shared secret (surrounding whitespace dropped), or None: no read API."""
    from webhooks.server.readapi import MIN_TOKEN_CHARS

    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise BadRequestError(f"cannot read the read API token file {path}: {e}") from e
    if len(token) < MIN_TOKEN_CHARS:  # refused before the start says the API is on
        raise BadRequestError(
            f"the read API token in {path} must be at least {MIN_TOKEN_CHARS} characters long"
        )
    click.echo(f"truthgate: read API on /api/v1 (proxy token from {path})")
    return token


def _bind(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8443)")
    return value


def _gatekeeper_caches() -> tuple[NamespaceLabels, InventoryCache, Callable[[], None]]:
    """What Gatekeeper constraints read from the cluster, and the per-worker sync starter.

    namespaceSelector: labels cached from Namespace reviews, else one bounded GET.
    data.inventory: the kinds of a Gatekeeper Config in the policy directory, listed by one
    thread per worker (started by the warm-up; idle while no Config names kinds).
    """
    from webhooks.cluster.reader import inventory_lister, namespace_labels_fetch
    from webhooks.server.inventory_sync import start_inventory_sync

    inventory = InventoryCache()

    def start() -> None:
        start_inventory_sync(inventory, inventory_lister())

    return NamespaceLabels(namespace_labels_fetch()), inventory, start


@click.command("serve")
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    envvar="TRUTHGATE_BIND",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on [env TRUTHGATE_BIND].",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM certificate (chain). Without it a self-signed pair is made.",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM private key for --tls-cert.",
)
@click.option(
    "--tls-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".truthgate") / "tls",
    show_default=True,
    help="Where a self-signed pair is written and reused from.",
)
@click.option(
    "--tls-san",
    multiple=True,
    metavar="NAME|IP",
    help="Extra subject names for the self-signed cert, e.g. truthgate.truthgate.svc (repeatable).",
)
@click.option(
    "--ledger",
    default=DEFAULT_LEDGER,
    envvar="TRUTHGATE_LEDGER",
    show_default=True,
    metavar="URL",
    help="SQLite path or sqlite:…, or postgresql://… [env TRUTHGATE_LEDGER].",
)
@admission_options
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    envvar="TRUTHGATE_WORKERS",
    help="gunicorn worker processes [env TRUTHGATE_WORKERS].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    envvar="TRUTHGATE_THREADS",
    help="Threads per worker [env TRUTHGATE_THREADS].",
)
@click.option(
    "--retention-days",
    type=click.IntRange(min=0),
    default=DEFAULT_RETENTION_DAYS,
    show_default=True,
    envvar="TRUTHGATE_RETENTION_DAYS",
    help="Prune ledger records older than this (hourly); 0 keeps everything "
    "[env TRUTHGATE_RETENTION_DAYS].",
)
@click.option(
    "--ledger-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="TRUTHGATE_LEDGER_KEY_FILE",
    help="Seal every ledger write with this key (a file from a Secret; not in the database). "
    "Without it the ledger is tamper-evident only [env TRUTHGATE_LEDGER_KEY_FILE].",
)
@click.option(
    "--webhook-timeout",
    type=click.FloatRange(min=0.5, max=30),
    default=3.0,
    show_default=True,
    envvar="TRUTHGATE_WEBHOOK_TIMEOUT",
    metavar="SECONDS",
    help="The API server's timeoutSeconds for this webhook; a ledger write gets two thirds of "
    "it, then the failure mode applies [env TRUTHGATE_WEBHOOK_TIMEOUT].",
)
@click.option(
    "--read-api-token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="TRUTHGATE_READ_API_TOKEN_FILE",
    help="File holding the secret Argo CD's proxy extension sends in Truthgate-Proxy-Token; "
    "enables the read API (/api/v1) [env TRUTHGATE_READ_API_TOKEN_FILE; default: off].",
)
def serve(
    *,
    bind: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_dir: Path,
    tls_san: tuple[str, ...],
    ledger: str,
    policy_dir: Path | None,
    engine_spec: str,
    enforcement: Path | None,
    failure_mode: FailureMode | None,
    workers: int,
    threads: int,
    retention_days: int,
    read_api_token_file: Path | None,
    ledger_key_file: Path | None,
    webhook_timeout: float,
) -> None:
    """Run the validating admission webhook (gunicorn, TLS)."""
    bind = _bind(bind)
    # Before anything imports prometheus_client: it picks multi-process mode at import time.
    from webhooks.server.multiproc import prepare_multiprocess_dir

    metrics_dir = prepare_multiprocess_dir()

    from webhooks.ledger.url import parse_ledger_url
    from webhooks.policy.factory import open_engine
    from webhooks.server import tls
    from webhooks.server.app import create_app
    from webhooks.server.gunicorn_app import ServerSettings, WebhookServer
    from webhooks.server.metrics import Metrics
    from webhooks.server.store import PerProcessStore

    policy_dir, config = admission_settings(policy_dir, enforcement, failure_mode)
    namespaces, inventory, start_inventory = _gatekeeper_caches()
    engine = open_engine(engine_spec, policy_dir, namespaces=namespaces, inventory=inventory)
    loaded = len(engine.policies())

    files = tls.resolve(tls_cert, tls_key, tls_dir, tls_san)
    shown_ledger = parse_ledger_url(ledger).display
    open_ledger, ledger_note = _ledger_opener(
        ledger, retention_days, ledger_key_file, webhook_timeout
    )

    click.echo(f"truthgate: TLS certificate {files.cert}, key {files.key}")
    if files.self_signed:
        verb = "wrote a new" if files.generated else "reusing the"
        click.echo(
            f"truthgate: {verb} self-signed certificate in {files.cert.parent}; "
            f"CA to trust (webhook caBundle): {files.cert.resolve()}"
        )
    click.echo(f"truthgate: ledger {shown_ledger}{ledger_note}")
    click.echo(
        f"truthgate: {loaded} policies loaded from {policy_dir} (engine {engine_spec}); "
        f"failure mode {config.failure_mode}"
    )

    store = PerProcessStore(open_ledger)
    metrics = Metrics(multiprocess_dir=metrics_dir)
    from webhooks.cluster.reader import scale_parent_fetch

    app = create_app(
        config,
        engine,
        store,
        metrics,
        read_token=_read_token(read_api_token_file),
        parents=scale_parent_fetch(),
    )

    def reload_policies() -> None:
        try:
            engine.reload()
        except TruthgateError as e:  # the engine keeps serving the previous set
            log.error("policy reload failed, keeping the previous policies: %s", e)
            return
        log.info("policies reloaded: %d loaded from %s", len(engine.policies()), policy_dir)

    def warm() -> None:
        # Builds this thread's compiled policies and ledger connection; answers are irrelevant
        # (a ledger that is down is reported by /readyz and handled per review).
        metrics.after_fork()
        start_inventory()
        with contextlib.suppress(TruthgateError):
            engine.evaluate("Deployment", WARM_INPUT)
        with contextlib.suppress(TruthgateError):
            store.ping()

    def ready() -> None:
        click.echo(
            f"truthgate: listening on https://{bind} ({workers} workers x {threads} "
            f"threads); POST /validate, GET /healthz /readyz /metrics"
        )

    settings = ServerSettings(
        bind=bind,
        certfile=str(files.cert),
        keyfile=str(files.key),
        workers=workers,
        threads=threads,
        loglevel=logging.getLevelName(logging.getLogger().level).lower(),
    )
    WebhookServer(settings, app, on_reload=reload_policies, on_ready=ready, warm=warm).run()


def _ledger_opener(
    url: str, retention_days: int, key_file: Path | None, webhook_timeout: float
) -> tuple[Callable[[], IntentStore], str]:
    """How each worker opens the ledger, and the start-up note about it (probed here once)."""
    from webhooks.ledger import open_store
    from webhooks.ledger.seal import load_key

    retention = retention_days or None
    deadline = ledger_write_deadline(webhook_timeout)
    key = load_key(key_file) if key_file else None
    note = _probe_ledger(url, retention, deadline, key)
    return (
        lambda: open_store(url, retention_days=retention, write_deadline_s=deadline, key=key),
        note,
    )


def ledger_write_deadline(webhook_timeout: float) -> float:
    """Two thirds of the API server's timeout: the rest is for the policies and the network."""
    return round(webhook_timeout * 2 / 3, 3)


def _probe_ledger(
    url: str, retention_days: int | None, write_deadline: float, key: bytes | None
) -> str:
    """Create the schema once in the master (workers then only open it); close before fork.

    Returns what to add to the start-up line about the ledger.
    """
    from webhooks.ledger import open_store
    from webhooks.ledger.seal import key_id

    sealing = (
        f"sealed with key {key_id(key)}"
        if key
        else "NOT sealed (no --ledger-key-file: tamper-evident only)"
    )
    retained = f"retention {retention_days} days" if retention_days else "retention off"
    settings = f" ({sealing}; {retained}; write deadline {write_deadline:g}s)"

    try:
        store = open_store(
            url, retention_days=retention_days, write_deadline_s=write_deadline, key=key
        )
    except LedgerError as e:
        return (
            f"{settings} — NOT reachable now ({short(e, 200)}); reviews follow the failure mode "
            f"and /readyz answers 503 until it is"
        )
    try:
        store.ping()
    except LedgerError as e:
        return f"{settings} — NOT answering now ({short(e, 200)})"
    finally:
        store.close()
    return settings
