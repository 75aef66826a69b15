"""Check a TruthCheck's ``spec`` against the CRD, and read ``spec.baseline`` into settings.

The shape (types, required fields, enums, lengths, counts, the known fields) is the TruthCheck
CRD's own schema, read once from the chart's file (webhooks.crds) and checked by
webhooks.baseline.shape, for the whole spec (``check_spec``) or the one field a reader needs
(``spec_field``); this module keeps only what a schema cannot say: durations that parse,
cross-field rules, Secret names, and refused credentials. Every problem is a BadRequestError
whose message starts with the path of the field (``spec.baseline.metrics[2].direction: must be
one of …``) so a user can fix the manifest without guessing. Unknown fields are refused rather
than ignored: a typo such as ``tolerence`` would otherwise silently switch a check off.

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
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from webhooks.baseline.shape import check_shape
from webhooks.common.durations import duration_field, format_duration
from webhooks.crds import truthcheck_spec_schema
from webhooks.errors import BadRequestError
from webhooks.evidence.model import Direction, Tolerance

MetricKind = Literal["gauge", "counter"]

DEFAULT_OBSERVE = timedelta(minutes=10)
DEFAULT_BASELINE = timedelta(minutes=30)

_DURATION_PATTERN_END = "([0-9]+ms)?)$"  # the CRD's Prometheus-style duration patterns
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


def check_spec(spec: object) -> dict[str, Any]:
    """Check a whole TruthCheck ``spec`` against the CRD; return it without its null fields."""
    if not isinstance(spec, Mapping):
        raise BadRequestError("spec: must be an object")
    body: dict[str, Any] = _without_nulls(spec)
    check_shape(body, truthcheck_spec_schema(), "spec", _explain_pattern)
    parse_baseline(body)  # what the schema cannot say about spec.baseline
    return body


def spec_field(spec: Mapping[str, Any], name: str) -> Any:
    """``spec[name]`` checked against its part of the CRD's schema; None when absent or null."""
    value = _without_nulls(spec.get(name))
    if value is not None:
        schema = truthcheck_spec_schema()["properties"][name]
        check_shape(value, schema, f"spec.{name}", _explain_pattern)
    return value


def parse_baseline(spec: Mapping[str, Any]) -> BaselineConfig | None:
    """Parse a TruthCheck ``spec``; None when it has no ``baseline`` section (nothing to judge)."""
    if not isinstance(spec, Mapping):
        raise BadRequestError("spec: must be an object")
    section = _without_nulls(spec.get("baseline"))
    if section is None:
        return None
    path = "spec.baseline"
    schema = truthcheck_spec_schema()["properties"]["baseline"]
    check_shape(section, schema, path, _explain_pattern)
    prometheus = _prometheus(section["prometheus"], f"{path}.prometheus")
    metrics = _metrics(section["metrics"], f"{path}.metrics")
    windows = _windows(section.get("windows"), f"{path}.windows")
    drift = section.get("driftBudget")
    if section.get("maxDataLag") is not None:  # read by the data-lag check, from the Evidence
        duration_field(section["maxDataLag"], f"{path}.maxDataLag")
    drift_budget = (
        windows.observe if drift is None else duration_field(drift, f"{path}.driftBudget")
    )
    return BaselineConfig(
        prometheus=prometheus, metrics=metrics, windows=windows, drift_budget=drift_budget
    )


def _without_nulls(value: Any) -> Any:
    """Drop null fields, as the API server does: an explicit null means "use the default"."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _explain_pattern(path: str, field: str, pattern: str, value: object) -> str | None:
    """Why ``value`` does not match one of the CRD's patterns, in the user's terms."""
    if field == "url" and path.startswith("spec.baseline."):
        _url(value, path)  # raises the precise reason
        return "not a valid URL"
    if field == "url":
        return "must be an http:// or https:// URL"
    if pattern.endswith(_DURATION_PATTERN_END):
        duration_field(value, path)  # raises "… is not a duration: … like 30s, 10m"
        return None
    if field == "name" and isinstance(value, str):
        return "must be 1-63 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
    return None


# -- sections (their shape already checked against the CRD) -----------------------------------


def _prometheus(body: Mapping[str, Any], path: str) -> PrometheusEndpoint:
    url = _url(body["url"], f"{path}.url")
    token_ref = body.get("bearerTokenSecretRef")
    tls = body.get("tls")
    return PrometheusEndpoint(
        url=url,
        bearer_token_secret_ref=None
        if token_ref is None
        else _secret_ref(token_ref, f"{path}.bearerTokenSecretRef"),
        tls=TLSSettings() if tls is None else _tls(tls, f"{path}.tls"),
        headers=_headers(body.get("headers", {}), f"{path}.headers"),
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


def _tls(body: Mapping[str, Any], path: str) -> TLSSettings:
    ca = body.get("caSecretRef")
    return TLSSettings(
        ca_secret_ref=None if ca is None else _secret_ref(ca, f"{path}.caSecretRef"),
        insecure_skip_verify=bool(body.get("insecureSkipVerify", False)),
    )


def _secret_ref(body: Mapping[str, Any], path: str) -> SecretKeyRef:
    name, key = str(body["name"]), str(body["key"])
    if not _SECRET_NAME.match(name):
        raise BadRequestError(f"{path}.name: must be a Secret name (lower-case DNS subdomain)")
    if not _SECRET_KEY.match(key):
        raise BadRequestError(f"{path}.key: must be a Secret key (letters, digits, '-', '_', '.')")
    return SecretKeyRef(name=name, key=key)


def _headers(value: Mapping[str, str], path: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name, header_value in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise BadRequestError(f"{path}: {str(name)[:64]!r} is not a valid HTTP header name")
        refused = _REFUSED_HEADERS.get(name.lower())
        if refused:
            raise BadRequestError(f"{path}.{name}: not allowed: {refused}")
        # Values are not echoed: a tenant id is harmless, but a header may hold anything.
        if any(c in header_value for c in "\r\n\0"):
            raise BadRequestError(f"{path}.{name}: must not contain line breaks")
        out.append((name, header_value))
    return tuple(out)


def _metrics(value: list[Mapping[str, Any]], path: str) -> tuple[MetricSpec, ...]:
    metrics = [_metric(item, f"{path}[{i}]") for i, item in enumerate(value)]
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        if metric.name in seen:
            raise BadRequestError(f"{path}[{i}].name: {metric.name!r} is used twice")
        seen.add(metric.name)
    return tuple(metrics)


def _metric(body: Mapping[str, Any], path: str) -> MetricSpec:
    tolerance = body.get("tolerance")
    return MetricSpec(
        name=body["name"],
        query=_string(body["query"], f"{path}.query"),
        direction=cast(Direction, body.get("direction", "either")),
        kind=cast(MetricKind, body.get("kind", "gauge")),
        tolerance=ToleranceSpec()
        if tolerance is None
        else _tolerance(tolerance, f"{path}.tolerance"),
        critical=bool(body.get("critical", True)),
    )


def _tolerance(body: Mapping[str, Any], path: str) -> ToleranceSpec:
    bounds = {}
    for field in ("relative", "absolute"):
        raw = body.get(field)
        if raw is None:
            continue
        if math.isnan(raw) or math.isinf(raw):  # JSON has neither; YAML has both
            raise BadRequestError(f"{path}.{field}: must be zero or more (and finite)")
        bounds[field] = float(raw)
    return ToleranceSpec(relative=bounds.get("relative"), absolute=bounds.get("absolute"))


def _windows(body: Mapping[str, Any] | None, path: str) -> Windows:
    if body is None:
        return Windows()
    observe = _positive_duration(body.get("observe"), f"{path}.observe", DEFAULT_OBSERVE)
    baseline = _positive_duration(body.get("baseline"), f"{path}.baseline", DEFAULT_BASELINE)
    span = observe + baseline
    history: list[timedelta] = []
    for i, item in enumerate(body.get("history", [])):
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


def _string(value: object, path: str) -> str:
    """A string with something in it: the schema's minLength lets a blank one through."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"{path}: must be a non-empty string")
    return value


def _positive_duration(value: object, path: str, default: timedelta) -> timedelta:
    if value is None:
        return default
    duration = duration_field(value, path)
    if duration <= timedelta(0):
        raise BadRequestError(f"{path}: must be longer than zero")
    return duration
