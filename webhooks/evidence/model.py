"""The versioned JSON contracts between truthgate's parts.

Kubernetes objects stay raw dicts (as the API returns them); these TypedDicts only name the
shapes truthgate itself defines. Keep them stable once shipped; bump ``apiVersion`` to change.
See docs/architecture.md for the field-by-field description.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

JSON = Any
KubeObject = dict[str, Any]

ActorClass = Literal["argocd", "human", "controller", "unknown"]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
VerdictValue = Literal["Healthy", "Progressing", "Degraded", "Unknown"]
Layer = Literal["declared", "controller", "runtime", "behaviour"]
Severity = Literal["info", "warning", "critical"]
Direction = Literal["increase-is-bad", "decrease-is-bad", "either"]
#: What started a verification: an Argo CD sync (the default when absent) or the auditor.
Trigger = Literal["sync", "audit"]


class GroupVersionKind(TypedDict):
    group: str
    version: str
    kind: str


# ``class`` is a Python keyword, so this shape uses TypedDict's functional form.
ActorRecord = TypedDict("ActorRecord", {"username": str, "groups": list[str], "class": ActorClass})


class IntentDecision(TypedDict):
    allowed: bool
    denials: list[str]
    warnings: list[str]
    dryrun: NotRequired[list[str]]  # what dry-run policies would have denied (not shown)
    error: NotRequired[str]  # a policy evaluation error and the failure mode applied


class IntentDraft(TypedDict):
    """An intent as the admission decision makes it, before the ledger chains it."""

    uid: str  # the admission uid
    time: str  # RFC 3339, UTC
    app: str | None
    kind: GroupVersionKind
    namespace: str | None
    name: str | None
    operation: Operation
    actor: ActorRecord
    patch: list[dict[str, Any]]  # RFC 6902, Secret values redacted
    decision: IntentDecision
    dryRun: bool
    breakGlass: NotRequired[str | None]


class PatchCapped(TypedDict):
    """Set when the patch was too large to keep whole: ``patch`` holds only its first ops."""

    sha256: str  # of the whole patch as canonical JSON
    bytes: int  # its size
    ops: int  # how many ops it had


class IntentRecord(IntentDraft):
    """One admitted or denied request on a GitOps-managed object, chained by hash."""

    prevHash: str
    hash: str
    patchCapped: NotRequired[PatchCapped]


class Probe(TypedDict):
    name: str
    url: str
    ok: bool
    status: int | None
    latencyMs: float | None
    at: str
    error: str | None


class Tolerance(TypedDict, total=False):
    relative: float  # e.g. 0.2 = a 20% change is tolerated
    absolute: float  # e.g. 0.001 = changes smaller than this are noise whatever the ratio


class HistoryWindow(TypedDict):
    """The same span as ``series`` one period earlier (timestamps as recorded, not shifted)."""

    offsetSeconds: float  # e.g. 86400 (a day) or 604800 (a week)
    series: list[list[float]]


class MetricSeries(TypedDict):
    """One behaviour metric around a change: points before ``changeAt`` are the baseline,
    points after it the observation."""

    name: str
    direction: Direction
    changeAt: str  # RFC 3339
    series: list[list[float]]  # [[unix_seconds, value], ...] as Prometheus returns them
    query: NotRequired[str]
    kind: NotRequired[Literal["gauge", "counter"]]  # counters are judged on their rate
    critical: NotRequired[bool]  # default true; false: advisory (a regression is a warning)
    tolerance: NotRequired[Tolerance]
    history: NotRequired[list[HistoryWindow]]
    driftBudgetSeconds: NotRequired[float]  # how long a divergence may last before it counts
    error: NotRequired[str]  # why the collector could not fetch it (the judge says NoData)


class Evidence(TypedDict, total=False):
    apiVersion: str
    kind: Literal["Evidence"]
    trigger: Trigger  # absent: "sync"
    collectedAt: str
    application: KubeObject
    truthCheck: KubeObject
    intents: list[IntentRecord]
    objects: list[KubeObject]
    probes: list[Probe]
    metrics: list[MetricSeries]


class ResourceRef(TypedDict):
    kind: str
    namespace: str | None
    name: str


class Finding(TypedDict):
    layer: Layer
    check: str
    resource: ResourceRef | None
    message: str
    severity: Severity


class Verdict(TypedDict):
    apiVersion: str
    kind: Literal["Verdict"]
    verdict: VerdictValue
    revision: str | None
    summary: str
    findings: list[Finding]
