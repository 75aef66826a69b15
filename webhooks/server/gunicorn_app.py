"""Run the Flask app under gunicorn, configured in code (no gunicorn config file).

Decisions, each because the kube-apiserver waits on every answer:
- gthread workers: a few processes (CPU for Rego) times a few threads (waiting on the ledger),
  with each request read in full by the worker's event loop before a thread serves it, so slow
  or silent clients hold no thread (``webhooks.server.worker``).
- The app is built once in the master (``preload_app``): policies are compiled once and a broken
  policy stops the start with a clear message, not a crash loop of workers. Workers fork with the
  compiled engine. The ledger is NOT opened in the master for use: database connections do not
  survive fork, so each worker opens its own on first use (see ``PerProcessStore``).
- SIGHUP re-reads the policies in the master (the engine keeps the old set if the new one does
  not compile), then gunicorn replaces the workers gracefully; new workers fork with new policies.
- Timeouts are short: an answer that takes seconds is already a failed admission for the API
  server (its own ``timeoutSeconds`` then applies the webhook's ``failurePolicy``).
- ``max_requests`` with jitter recycles workers now and then so no slow leak grows for ever.
- Each worker warms every request thread before it accepts a connection: the embedded Rego
  engine is per thread and compiling it on a live request would cost that review tens of ms.
- A kept-alive connection is served by the worker that accepted it, for as long as it lives,
  and the API server keeps its few connections busy. Four connections on two workers often
  sit three to one or four to none, and then one worker (one GIL) carries most of the load
  while the other idles: at 300 Deployment reviews/s that alone took the p99 from about
  14 ms to about 80 ms. So every ``max_requests_per_connection``-th answer on a connection
  says ``Connection: close``; the client opens a new one (one TLS handshake per 100
  reviews), and whichever worker is free accepts it, so no split lasts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from webhooks.server.metrics import mark_process_dead

log = logging.getLogger("truthgate.server")


@dataclass(frozen=True)
class ServerSettings:
    bind: str  # HOST:PORT
    certfile: str
    keyfile: str
    workers: int = 2
    threads: int = 4
    timeout: int = 10  # worker heartbeat; a stuck worker is killed and replaced
    graceful_timeout: int = 10
    keepalive: int = 30  # the API server reuses connections; do not make it re-handshake TLS
    max_requests: int = 20000
    max_requests_jitter: int = 2000
    loglevel: str = "info"
    accesslog: str | None = None  # one structured line per review is logged by the app already
    max_requests_per_connection: int = 100  # then "Connection: close" (0: never)


class WebhookServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's arbiter around an app built once, before forking."""

    def __init__(
        self,
        settings: ServerSettings,
        app: Flask,
        on_reload: Callable[[], None] | None = None,
        on_ready: Callable[[], None] | None = None,
        warm: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._app = app
        self._on_reload = on_reload
        self._on_ready = on_ready
        self._warm = warm
        super().__init__()

    def load_config(self) -> None:
        s = self._settings
        options: dict[str, Any] = {
            "bind": [s.bind],
            "certfile": s.certfile,
            "keyfile": s.keyfile,
            "worker_class": "webhooks.server.worker.BufferedThreadWorker",
            "workers": s.workers,
            "threads": s.threads,
            "timeout": s.timeout,
            "graceful_timeout": s.graceful_timeout,
            "keepalive": s.keepalive,
            "max_requests": s.max_requests,
            "max_requests_jitter": s.max_requests_jitter,
            # A request line is "POST /validate?timeout=10s HTTP/1.1": anything long is junk.
            "limit_request_line": 1024,
            "limit_request_fields": 50,
            "limit_request_field_size": 8190,
            "preload_app": True,
            "loglevel": s.loglevel,
            "accesslog": s.accesslog,
            "errorlog": "-",
            "proc_name": "truthgate",
            # The control socket defaults to a shared path under $HOME; several servers on one
            # machine would fight over it, and nothing here needs it.
            "control_socket_disable": True,
            "child_exit": _child_exit,
            "on_reload": self._reload_hook,
            "when_ready": self._ready_hook,
            "post_worker_init": self._warm_hook,
            "pre_request": close_every(s.max_requests_per_connection),
        }
        for key, value in options.items():
            if key in self.cfg.settings:  # older gunicorn lacks some (control socket)
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app

    def _reload_hook(self, _arbiter: object) -> None:
        if self._on_reload is not None:
            self._on_reload()

    def _warm_hook(self, worker: object) -> None:
        if self._warm is not None:
            warm_threads(worker, self._warm)

    def _ready_hook(self, _arbiter: object) -> None:
        if self._on_ready is not None:
            self._on_ready()


WARM_DEADLINE_S = 20.0


def close_every(requests: int) -> Callable[[Any, Any], None]:
    """A gunicorn ``pre_request`` hook: the ``requests``-th answer on a connection closes it.

    gunicorn numbers the requests of a connection (``req_number``, from 1) and answers with
    ``Connection: close`` when the request ``must_close``: the client is told before it sends
    anything more, so nothing in flight is lost and it simply reconnects.
    """

    def hook(_worker: Any, req: Any) -> None:
        if requests > 0 and req.req_number % requests == 0:
            req.must_close = True

    return hook


def warm_threads(worker: Any, warm: Callable[[], None]) -> None:
    """Run ``warm`` once on each thread of a gthread worker's pool, before it serves.

    A barrier holds each warm-up task until all are running, so they land on distinct threads
    (the pool starts a new thread whenever none is idle). Bounded: a stuck warm-up only costs
    the deadline, and the worker then serves cold rather than not at all.
    """
    pool = getattr(worker, "tpool", None)
    count = int(getattr(worker.cfg, "threads", 1))
    if pool is None or count < 1:
        _safely(warm)
        return
    barrier = threading.Barrier(count)

    def task() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=WARM_DEADLINE_S / 2)
        _safely(warm)

    futures.wait([pool.submit(task) for _ in range(count)], timeout=WARM_DEADLINE_S)


def _safely(warm: Callable[[], None]) -> None:
    try:
        warm()
    except Exception:
        log.exception("warming a worker thread failed; it will warm on its first review")


def _child_exit(_arbiter: object, worker: Any) -> None:
    # Drops the exited worker's live-gauge files; counters and histograms keep their samples.
    mark_process_dead(worker.pid)
