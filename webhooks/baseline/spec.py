"""Read the ``spec.baseline`` section of a TruthCheck into frozen, validated settings.

Pure: no I/O. Every problem is a BadRequestError whose message starts with the path of the
field (``spec.baseline.metrics[2].direction: must be one of …``) so a user can fix the manifest
without guessing. Unknown fields are refused rather than ignored: a typo such as ``tolerence``
would otherwise silently switch a check off.

Secrets are referenced, never inlined: the settings carry the Secret names and keys; the caller
(post-sync collect) reads them and hands the token / CA bytes to the collector. For the same
reason a URL with ``user:password@`` and an ``Authorization`` header are refused, and no error
message ever repeats a header value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from webhooks.common.durations import duration_field, format_duration
from webhooks.errors import BadRequestError
from webhooks.evidence.model import Direction, Tolerance

MetricKind = Literal["gauge", "counter"]

DEFAULT_OBSERVE = timedelta(minutes=10)
DEFAULT_BASELINE = timedelta(minutes=30)
MAX_METRICS = 50
MAX_HISTORY = 8
MAX_QUERY_CHARS = 16_384
MAX_HEADERS = 16
MAX_HEADER_VALUE_CHARS = 1024

_DIRECTIONS: tuple[str, ...] = get_args(Direction)
_KINDS: tuple[str, ...] = get_args(MetricKind)
_METRIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Credentials belong in bearerTokenSecretRef; the collector owns the request framing.
_REFUSED_HEADERS = {
    "authorization": "put the token in a Secret and reference it with bearerTokenSecretRef",
    "proxy-authorization": "credentials are not accepted inline",
    "cookie": "credentials are not accepted inline",
    "host": "set by the collector from the url",
    "content-type": "set by the collector",
    "content-length": "set by the collector",
}


@dataclass(frozen=True)
class SecretKeyRef:
    """A key of a Secret in the TruthCheck's namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class TLSSettings:
    ca_secret_ref: SecretKeyRef | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class PrometheusEndpoint:
    """Where the Prometheus HTTP API lives (Prometheus, Thanos Query, Mimir: same API)."""

    url: str  # scheme://host[:port][/path-prefix], no trailing slash
    bearer_token_secret_ref: SecretKeyRef | None = None
    tls: TLSSettings = TLSSettings()
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers, e.g. X-Scope-OrgID


@dataclass(frozen=True)
class ToleranceSpec:
    relative: float | None = None
    absolute: float | None = None

    def as_evidence(self) -> Tolerance:
        """Only what the user set: an unset bound means the judge's default."""
        out: Tolerance = {}
        if self.relative is not None:
            out["relative"] = self.relative
        if self.absolute is not None:
            out["absolute"] = self.absolute
        return out


@dataclass(frozen=True)
class MetricSpec:
    name: str
    query: str
    direction: Direction = "either"
    kind: MetricKind = "gauge"
    tolerance: ToleranceSpec = ToleranceSpec()
    critical: bool = True  # false: advisory, a regression is a warning only


@dataclass(frozen=True)
class Windows:
    observe: timedelta = DEFAULT_OBSERVE
    baseline: timedelta = DEFAULT_BASELINE
    history: tuple[timedelta, ...] = ()  # offsets of earlier copies of the same span


@dataclass(frozen=True)
class BaselineConfig:
    prometheus: PrometheusEndpoint
    metrics: tuple[MetricSpec, ...]
    windows: Windows
    drift_budget: timedelta  # how long a divergence may last before it counts


def parse_baseline(spec: Mapping[str, Any]) -> BaselineConfig | None:
    """Parse a TruthCheck ``spec``; None when it has no ``baseline`` section (nothing to judge)."""
    if not isinstance(spec, Mapping):
        raise BadRequestError("spec: must be an object")
    section = spec.get("baseline")
    if section is None:
        return None
    path = "spec.baseline"
    body = _object(section, path, {"prometheus", "metrics", "windows", "driftBudget", "maxDataLag"})
    prometheus = _prometheus(_required(body, "prometheus", path), f"{path}.prometheus")
    metrics = _metrics(_required(body, "metrics", path), f"{path}.metrics")
    windows = _windows(body.get("windows"), f"{path}.windows")
    drift = body.get("driftBudget")
    if body.get("maxDataLag") is not None:  # read by the data-lag check, from the Evidence
        duration_field(body["maxDataLag"], f"{path}.maxDataLag")
    drift_budget = (
        windows.observe if drift is None else duration_field(drift, f"{path}.driftBudget")
    )
    return BaselineConfig(
        prometheus=prometheus, metrics=metrics, windows=windows, drift_budget=drift_budget
    )


# -- sections ----------------------------------------------------------------------------------


def _prometheus(value: object, path: str) -> PrometheusEndpoint:
    body = _object(value, path, {"url", "bearerTokenSecretRef", "tls", "headers"})
    url = _url(_required(body, "url", path), f"{path}.url")
    token_ref = body.get("bearerTokenSecretRef")
    tls = body.get("tls")
    return PrometheusEndpoint(
        url=url,
        bearer_token_secret_ref=None
        if token_ref is None
        else _secret_ref(token_ref, f"{path}.bearerTokenSecretRef"),
        tls=TLSSettings() if tls is None else _tls(tls, f"{path}.tls"),
        headers=_headers(body.get("headers"), f"{path}.headers"),
    )


def _url(value: object, path: str) -> str:
    text = _string(value, path)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as e:
        raise BadRequestError(f"{path}: not a valid URL") from e
    if parts.scheme not in ("http", "https"):
        raise BadRequestError(f"{path}: must start with http:// or https://")
    if not host:
        raise BadRequestError(f"{path}: must name a host, like http://prometheus.monitoring:9090")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL here: it holds a credential.
        raise BadRequestError(
            f"{path}: must not carry credentials; use bearerTokenSecretRef for a token"
        )
    if parts.query or parts.fragment:
        raise BadRequestError(f"{path}: must not have a query string or fragment")
    return text.rstrip("/")


def _tls(value: object, path: str) -> TLSSettings:
    body = _object(value, path, {"caSecretRef", "insecureSkipVerify"})
    ca = body.get("caSecretRef")
    skip = body.get("insecureSkipVerify", False)
    if not isinstance(skip, bool):
        raise BadRequestError(f"{path}.insecureSkipVerify: must be true or false")
    return TLSSettings(
        ca_secret_ref=None if ca is None else _secret_ref(ca, f"{path}.caSecretRef"),
        insecure_skip_verify=skip,
    )


def _secret_ref(value: object, path: str) -> SecretKeyRef:
    body = _object(value, path, {"name", "key"})
    name = _string(_required(body, "name", path), f"{path}.name")
    key = _string(_required(body, "key", path), f"{path}.key")
    if len(name) > 253 or not _SECRET_NAME.match(name):
        raise BadRequestError(f"{path}.name: must be a Secret name (lower-case DNS subdomain)")
    if len(key) > 253 or not _SECRET_KEY.match(key):
        raise BadRequestError(f"{path}.key: must be a Secret key (letters, digits, '-', '_', '.')")
    return SecretKeyRef(name=name, key=key)


def _headers(value: object, path: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{path}: must be an object of header names to values")
    if len(value) > MAX_HEADERS:
        raise BadRequestError(f"{path}: at most {MAX_HEADERS} headers")
    out = []
    for name, header_value in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise BadRequestError(f"{path}: {str(name)[:64]!r} is not a valid HTTP header name")
        refused = _REFUSED_HEADERS.get(name.lower())
        if refused:
            raise BadRequestError(f"{path}.{name}: not allowed: {refused}")
        # Values are not echoed: a tenant id is harmless, but a header may hold anything.
        if not isinstance(header_value, str):
            raise BadRequestError(f"{path}.{name}: must be a string")
        if any(c in header_value for c in "\r\n\0"):
            raise BadRequestError(f"{path}.{name}: must not contain line breaks")
        if len(header_value) > MAX_HEADER_VALUE_CHARS:
            raise BadRequestError(f"{path}.{name}: longer than {MAX_HEADER_VALUE_CHARS} characters")
        out.append((name, header_value))
    return tuple(out)


def _metrics(value: object, path: str) -> tuple[MetricSpec, ...]:
    if not isinstance(value, list):
        raise BadRequestError(f"{path}: must be a list of metrics")
    if not value:
        raise BadRequestError(f"{path}: must list at least one metric")
    if len(value) > MAX_METRICS:
        raise BadRequestError(f"{path}: at most {MAX_METRICS} metrics, got {len(value)}")
    metrics = [_metric(item, f"{path}[{i}]") for i, item in enumerate(value)]
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        if metric.name in seen:
            raise BadRequestError(f"{path}[{i}].name: {metric.name!r} is used twice")
        seen.add(metric.name)
    return tuple(metrics)


def _metric(value: object, path: str) -> MetricSpec:
    fields = {"name", "query", "direction", "kind", "tolerance", "critical"}
    body = _object(value, path, fields)
    name = _string(_required(body, "name", path), f"{path}.name")
    if not _METRIC_NAME.match(name):
        raise BadRequestError(
            f"{path}.name: must be 1-63 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    query = _string(_required(body, "query", path), f"{path}.query")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequestError(f"{path}.query: longer than {MAX_QUERY_CHARS} characters")
    direction = _choice(body.get("direction", "either"), f"{path}.direction", _DIRECTIONS)
    kind = _choice(body.get("kind", "gauge"), f"{path}.kind", _KINDS)
    critical = body.get("critical", True)
    if not isinstance(critical, bool):
        raise BadRequestError(f"{path}.critical: must be true or false")
    tolerance = body.get("tolerance")
    return MetricSpec(
        name=name,
        query=query,
        direction=cast(Direction, direction),
        kind=cast(MetricKind, kind),
        tolerance=ToleranceSpec()
        if tolerance is None
        else _tolerance(tolerance, f"{path}.tolerance"),
        critical=critical,
    )


def _tolerance(value: object, path: str) -> ToleranceSpec:
    body = _object(value, path, {"relative", "absolute"})
    bounds = {}
    for field in ("relative", "absolute"):
        raw = body.get(field)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw):
            raise BadRequestError(f"{path}.{field}: must be a number")
        if raw < 0 or math.isinf(raw):
            raise BadRequestError(f"{path}.{field}: must be zero or more (and finite)")
        bounds[field] = float(raw)
    return ToleranceSpec(relative=bounds.get("relative"), absolute=bounds.get("absolute"))


def _windows(value: object, path: str) -> Windows:
    if value is None:
        return Windows()
    body = _object(value, path, {"observe", "baseline", "history"})
    observe = _positive_duration(body.get("observe"), f"{path}.observe", DEFAULT_OBSERVE)
    baseline = _positive_duration(body.get("baseline"), f"{path}.baseline", DEFAULT_BASELINE)
    raw_history = body.get("history", [])
    if not isinstance(raw_history, list):
        raise BadRequestError(f"{path}.history: must be a list of durations, like [24h, 168h]")
    if len(raw_history) > MAX_HISTORY:
        raise BadRequestError(f"{path}.history: at most {MAX_HISTORY} offsets")
    span = observe + baseline
    history: list[timedelta] = []
    for i, item in enumerate(raw_history):
        offset = duration_field(item, f"{path}.history[{i}]")
        if offset < span:
            # A shorter offset would overlap the window it is meant to be compared with.
            raise BadRequestError(
                f"{path}.history[{i}]: must be at least baseline + observe "
                f"({format_duration(span)}) so the earlier window does not overlap this one"
            )
        if offset in history:
            raise BadRequestError(f"{path}.history[{i}]: {item!r} is listed twice")
        history.append(offset)
    return Windows(observe=observe, baseline=baseline, history=tuple(history))


# -- field helpers -----------------------------------------------------------------------------


def _object(value: object, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{path}: must be an object")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise BadRequestError(
            f"{path}.{unknown[0][:64]}: unknown field; expected one of {', '.join(sorted(allowed))}"
        )
    return value


def _required(body: Mapping[str, Any], field: str, path: str) -> object:
    value = body.get(field)
    if value is None:
        raise BadRequestError(f"{path}.{field}: required")
    return value


def _string(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"{path}: must be a non-empty string")
    return value


def _choice(value: object, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise BadRequestError(f"{path}: must be one of {', '.join(choices)}")
    return value


def _positive_duration(value: object, path: str, default: timedelta) -> timedelta:
    if value is None:
        return default
    duration = duration_field(value, path)
    if duration <= timedelta(0):
        raise BadRequestError(f"{path}: must be longer than zero")
    return duration
