"""Fetch the behaviour metrics of one sync from the Prometheus HTTP API.

The I/O half of the baseline judge (the judge itself, ``webhooks.baseline``, is pure and does
none). For every metric of a TruthCheck it asks
``/api/v1/query_range`` for the window around the change and for each history offset, and
returns ``MetricSeries`` ready to put into the Evidence document. Prometheus, Thanos Query and
Mimir speak the same API; a path prefix in the URL (``http://mimir/prometheus``) is kept.

What it promises the caller:

* It never raises for anything the network or Prometheus does. A metric it could not fetch gets
  ``series: []`` and a short ``error``; the judge then says NoData and the verdict shows why —
  never a false Degraded. One failing metric never loses the others. A query that matched
  nothing is no failure: it gets ``series: []`` and no ``error``, and the judge says there was
  no data for it.
* It returns within ``deadline_seconds`` (plus one small read), however slow or dead the server.
* The bearer token is sent as a header and nowhere else: not in a log line, not in an ``error``
  (upstream text is scrubbed of it in case a proxy echoes the request back).

Queries are POSTed form-encoded (long PromQL does not fit in a URL) with Prometheus' own
``timeout`` parameter set a little under ours, so a slow query ends with Prometheus' readable
error rather than our socket timeout. Connection errors, 429 and 5xx are retried with
exponential backoff and jitter; 4xx (``bad_data``: a wrong query) is final at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import tempfile
import time
import warnings
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

import requests
import urllib3

from webhooks.baseline.response import QueryAnswer, parse_query_range
from webhooks.baseline.spec import BaselineConfig, MetricSpec
from webhooks.baseline.windows import QueryRange, plan_ranges
from webhooks.common.backoff import equal_jitter
from webhooks.common.times import format_time
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import HistoryWindow, MetricSeries

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 4.0
CONNECT_TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # ~100x a one-series answer of 1,500 points
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def collect_metrics(
    config: BaselineConfig,
    change_at: datetime,
    now: datetime,
    *,
    bearer_token: str | None = None,
    ca_data: bytes | None = None,
    session: requests.Session | None = None,
    deadline_seconds: float = 30.0,
    request_timeout_seconds: float = 10.0,
    down: MutableMapping[str, str] | None = None,
) -> list[MetricSeries]:
    """Query every metric of ``config`` around ``change_at``; one MetricSeries per metric.

    ``bearer_token`` and ``ca_data`` (PEM) are the resolved contents of the Secrets the config
    references. ``change_at`` and ``now`` must be timezone-aware. Raises BadRequestError only for
    a caller mistake (naive datetimes); everything else ends up in a metric's ``error``.

    ``down`` is shared by the collections of one audit pass: a server that no request reached
    (refused, timed out) is written there, and later collections against it skip their queries
    instead of each waiting out the deadline again.
    """
    try:
        plan = plan_ranges(
            change_at,
            now,
            observe=config.windows.observe,
            baseline=config.windows.baseline,
            history=config.windows.history,
        )
    except ValueError as e:
        raise BadRequestError(f"cannot plan the metric windows: {e}") from e
    change_text = format_time(change_at)
    out = [_skeleton(metric, change_text, config) for metric in config.metrics]
    with _Client.open(
        config=config,
        token=bearer_token,
        ca_data=ca_data,
        session=session,
        deadline_seconds=deadline_seconds,
        request_timeout=request_timeout_seconds,
        down=down,
    ) as client:
        # Current windows of every metric first: if the deadline is tight, history (the less
        # important context) is what gets dropped.
        for metric, series in zip(config.metrics, out, strict=True):
            answer = client.query_range(metric.query, plan.current)
            if answer.error is not None:
                series["error"] = answer.error
                log.warning("baseline metric %s: %s", metric.name, answer.error)
            else:
                # A query that matched nothing was fetched all right: it has no points, and
                # the judge says there was no data rather than that fetching failed.
                series["series"] = answer.points
        for metric, series in zip(config.metrics, out, strict=True):
            if "error" in series or not series["series"] or not plan.history:
                continue
            series["history"] = [_history(client, metric, rng) for rng in plan.history]
    return out


def _skeleton(metric: MetricSpec, change_text: str, config: BaselineConfig) -> MetricSeries:
    series: MetricSeries = {
        "name": metric.name,
        "direction": metric.direction,
        "changeAt": change_text,
        "series": [],
        "query": metric.query,
        "kind": metric.kind,
        "critical": metric.critical,
        "driftBudgetSeconds": config.drift_budget.total_seconds(),
    }
    tolerance = metric.tolerance.as_evidence()
    if tolerance:
        series["tolerance"] = tolerance
    return series


def _history(client: _Client, metric: MetricSpec, rng: QueryRange) -> HistoryWindow:
    """An earlier copy of the window; failing to get it only loses that comparison."""
    answer = client.query_range(metric.query, rng)
    if answer.error is not None:
        log.warning(
            "baseline metric %s, history %gs back: %s",
            metric.name,
            rng.offset_seconds,
            answer.error,
        )
    return {"offsetSeconds": rng.offset_seconds, "series": answer.points}


@dataclass
class _Client:
    """One collection's view of the API: where, how to authenticate, and the time left."""

    session: requests.Session
    endpoint: str
    headers: dict[str, str]
    verify: bool | str
    token: str | None
    deadline: float  # time.monotonic() value
    deadline_seconds: float
    request_timeout: float
    unreachable: str | None = None  # set once the server proved unreachable: skip the rest
    answered: bool = False  # any HTTP reply at all: the server is up, whatever it said
    no_reply: str | None = None  # the last refusal or timeout, while nothing answered
    _rng: random.Random = field(default_factory=random.Random)

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        *,
        config: BaselineConfig,
        token: str | None,
        ca_data: bytes | None,
        session: requests.Session | None,
        deadline_seconds: float,
        request_timeout: float,
        down: MutableMapping[str, str] | None = None,
    ) -> Iterator[_Client]:
        endpoint = config.prometheus
        headers = dict(endpoint.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with contextlib.ExitStack() as stack:
            if session is None:
                session = stack.enter_context(requests.Session())
            verify: bool | str = True
            if endpoint.tls.insecure_skip_verify:
                verify = False
                log.warning("TLS verification is off for Prometheus at %s", endpoint.url)
                # The user chose this in the TruthCheck; one log line says so, not one per call.
                stack.enter_context(warnings.catch_warnings())
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            elif ca_data:
                verify = stack.enter_context(_ca_file(ca_data))
            client = cls(
                session=session,
                endpoint=endpoint.url + "/api/v1/query_range",
                headers=headers,
                verify=verify,
                token=token,
                deadline=time.monotonic() + deadline_seconds,
                deadline_seconds=deadline_seconds,
                request_timeout=request_timeout,
            )
            if down is not None and (reason := down.get(endpoint.url)) is not None:
                client.unreachable = f"{reason} (earlier in this audit pass; asked again next pass)"
            yield client
            if down is not None and not client.answered and client.no_reply is not None:
                down[endpoint.url] = client.no_reply

    def query_range(self, query: str, rng: QueryRange) -> QueryAnswer:
        """POST one range query, retrying what is worth retrying, within the deadline."""
        if self.unreachable is not None:
            return QueryAnswer([], f"skipped: {self.unreachable}")
        last = "no attempt made"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            remaining = self.deadline - time.monotonic()
            if remaining <= 0.05:
                return QueryAnswer([], self._scrub(f"{self._late()}; last: {last}"))
            timeout = min(self.request_timeout, remaining)
            retry_after = 0.0
            try:
                reply = self._post(query, rng, timeout)
            except requests.exceptions.SSLError as e:
                return QueryAnswer([], self._scrub(f"TLS error talking to Prometheus: {_cause(e)}"))
            except (requests.ConnectionError, requests.Timeout) as e:
                last = self.no_reply = self._scrub(self._describe(e, timeout))
                if attempt == MAX_ATTEMPTS:
                    self.unreachable = last
            except _TooLarge as e:
                return QueryAnswer([], str(e))
            else:
                self.answered = True
                retry_after = reply.retry_after
                if 300 <= reply.status < 400:
                    # Not followed: a redirect would turn the POST into a GET without the query,
                    # and send the token to wherever it points.
                    return QueryAnswer(
                        [],
                        self._scrub(
                            f"Prometheus answered a redirect (HTTP {reply.status} to "
                            f"{short(reply.location, 120)!r}); put the final address in "
                            "spec.baseline.prometheus.url"
                        ),
                    )
                answer = parse_query_range(reply.status, reply.body)
                if reply.status not in _RETRYABLE_STATUS:
                    if answer.error is not None:
                        return QueryAnswer([], self._scrub(answer.error))
                    return answer
                last = self._scrub(answer.error or f"HTTP {reply.status}")
            if attempt < MAX_ATTEMPTS:
                delay = self._backoff(attempt, retry_after)
                if time.monotonic() + delay >= self.deadline:
                    return QueryAnswer([], f"{self._late()}; last: {last}")
                time.sleep(delay)
        return QueryAnswer([], f"gave up after {MAX_ATTEMPTS} attempts: {last}")

    def _post(self, query: str, rng: QueryRange, timeout: float) -> _Reply:
        form = {
            "query": query,
            "start": f"{rng.start:.3f}",
            "end": f"{rng.end:.3f}",
            "step": str(rng.step),
            # A little under our own timeout: Prometheus then answers "query timed out" itself.
            # Whole milliseconds: Prometheus durations take no decimals ("9.5s" is refused).
            "timeout": f"{max(100, int(timeout * 900))}ms",
        }
        with self.session.post(
            self.endpoint,
            data=form,
            headers=self.headers,
            timeout=(min(CONNECT_TIMEOUT_SECONDS, timeout), timeout),
            verify=self.verify,
            stream=True,
            allow_redirects=False,
        ) as resp:
            body = bytearray()
            for chunk in resp.iter_content(chunk_size=65536):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise _TooLarge(
                        f"answer larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB; "
                        "aggregate the query to one series"
                    )
                if time.monotonic() > self.deadline:
                    raise requests.Timeout("the answer was still arriving at the deadline")
            return _Reply(
                status=resp.status_code,
                body=bytes(body),
                retry_after=_retry_after(resp),
                location=resp.headers.get("Location", ""),
            )

    def _backoff(self, attempt: int, retry_after: float) -> float:
        delay = equal_jitter(
            attempt, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS, rng=self._rng
        )
        return max(delay, min(retry_after, BACKOFF_CAP_SECONDS))

    def _describe(self, exc: requests.RequestException, timeout: float) -> str:
        where = self.endpoint.removesuffix("/api/v1/query_range")
        if isinstance(exc, requests.ConnectTimeout):
            return f"cannot reach Prometheus at {where}: connect timed out"
        if isinstance(exc, requests.Timeout):
            return f"Prometheus at {where} did not answer within {timeout:.1f}s"
        return f"cannot reach Prometheus at {where}: {_cause(exc)}"

    def _late(self) -> str:
        return f"not fetched: the {self.deadline_seconds:g}s deadline for metrics passed"

    def _scrub(self, text: str) -> str:
        """Upstream text may echo the request (a debugging proxy); never pass the token on."""
        if self.token:
            text = text.replace(self.token, "[redacted]")
        return text


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    retry_after: float  # seconds the server asked us to wait (429/503), 0 if it did not say
    location: str  # where a redirect points


class _TooLarge(Exception):
    pass


def _retry_after(resp: requests.Response) -> float:
    value = resp.headers.get("Retry-After", "")
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return 0.0  # HTTP-date form: rare from Prometheus proxies; our backoff applies


def _cause(exc: BaseException) -> str:
    """The innermost OS-level reason ("Connection refused"), not urllib3's nested repr."""
    reason = ""
    current: BaseException | None = exc
    for _ in range(12):  # requests -> urllib3 -> socket chains are short; bound the walk anyway
        if current is None:
            break
        if isinstance(current, OSError) and isinstance(current.strerror, str):
            reason = current.strerror  # keep going: the innermost one is the real cause
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = current.args[0] if current.args else None
        if not isinstance(nested, BaseException):
            nested = current.__cause__ or current.__context__
        current = nested
    if reason:
        return short(reason, 160)
    return short(str(exc).split(" (Caused by ")[-1].rstrip(")"), 160) or type(exc).__name__


@contextlib.contextmanager
def _ca_file(ca_data: bytes) -> Iterator[str]:
    """requests verifies against a file path; the CA lives only for this collection."""
    fd, path = tempfile.mkstemp(prefix="truthgate-prom-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(ca_data)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
