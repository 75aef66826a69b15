"""truthgate's own look at the service: HTTP GET each probe a TruthCheck declares.

Independent of what any controller reports, a probe asks the running service directly and
records what it saw (status, latency, error) — never the response body. Bounded: each probe has
its own timeout (at most 30 s, the CRD's bound), all probes together a total budget; probes the budget cannot cover are
recorded as not run rather than silently dropped. Only http and https are fetched, redirects
included (at most a few); credentials in a URL are masked before the URL is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from webhooks.baseline.spec import spec_field
from webhooks.common.times import format_time
from webhooks.errors import short
from webhooks.evidence.model import Probe

MAX_REDIRECTS = 3


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    url: str
    expect_status: int = 200
    timeout_seconds: float = 2.0


def parse_probes(spec: Mapping[str, Any]) -> list[ProbeSpec]:
    """``spec.probes`` of a TruthCheck (its shape is the CRD's); BadRequestError names the field."""
    return [
        ProbeSpec(
            item["name"],
            item["url"],
            item.get("expectStatus", 200),
            float(item.get("timeoutSeconds", 2)),
        )
        for item in spec_field(spec, "probes") or []
    ]


def masked(url: str) -> str:
    """The URL without a password (user names stay, to tell probes apart)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _now() -> str:
    return format_time(datetime.now(UTC))


def run_probes(
    probes: Sequence[ProbeSpec],
    *,
    budget_seconds: float = 30.0,
    session: requests.Session | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[Probe]:
    """One Probe record per spec, in order, within ``budget_seconds`` in total."""
    http = session or requests.Session()
    http.max_redirects = MAX_REDIRECTS
    http.trust_env = False  # a probe goes where the manifest says, not through a proxy
    deadline = monotonic() + budget_seconds
    results: list[Probe] = []
    try:
        for spec in probes:
            remaining = deadline - monotonic()
            record: Probe = {
                "name": spec.name,
                "url": masked(spec.url),
                "ok": False,
                "status": None,
                "latencyMs": None,
                "at": _now(),
                "error": None,
            }
            if remaining <= 0.05:
                record["error"] = "not run: the total probe budget was spent"
                results.append(record)
                continue
            started = monotonic()
            try:
                response = http.get(
                    spec.url,
                    timeout=min(spec.timeout_seconds, remaining),
                    allow_redirects=True,
                    stream=True,
                )
                response.close()  # the status is enough; never read (or keep) the body
            except requests.RequestException as e:
                record["latencyMs"] = round((monotonic() - started) * 1000, 1)
                record["error"] = short(f"{type(e).__name__}: {e}", 200).replace(
                    spec.url, record["url"]
                )
            else:
                record["latencyMs"] = round((monotonic() - started) * 1000, 1)
                record["status"] = response.status_code
                record["ok"] = response.status_code == spec.expect_status
                if not record["ok"]:
                    record["error"] = (
                        f"expected HTTP {spec.expect_status}, got {response.status_code}"
                    )
            results.append(record)
    finally:
        if session is None:
            http.close()
    return results
