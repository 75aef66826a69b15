"""One small domain error hierarchy.

Every failure that crosses a module boundary is one of these, chained to its cause with
``raise … from e``. Adapters (the Flask app, the CLI) turn them into HTTP/admission responses
or exit codes in one place each; nothing else inspects third-party exceptions.
"""

from __future__ import annotations

from webhooks.common.text import clip


class TruthgateError(Exception):
    """Base of every error truthgate raises on purpose."""


class BadRequestError(TruthgateError):
    """The caller sent something we cannot use (malformed review, evidence, flag)."""


class NotFoundError(TruthgateError):
    """What the caller asked for does not exist (or is no longer kept)."""


class ForbiddenError(TruthgateError):
    """The caller may not see this: it belongs to another application."""


class PolicyError(TruthgateError):
    """A policy could not be loaded or evaluated."""


class LedgerError(TruthgateError):
    """The ledger could not be reached or refused a write."""


class LedgerTimeoutError(LedgerError):
    """A ledger write did not finish within its deadline (the database hangs or is stuck)."""


class LedgerIntegrityError(LedgerError):
    """The hash chain does not verify: a record was changed, removed or reordered."""


class ClusterError(TruthgateError):
    """The Kubernetes API could not be read or written."""


class ConflictError(ClusterError):
    """An optimistic-concurrency write lost a race (HTTP 409 on resourceVersion)."""


class MetricsError(TruthgateError):
    """The metrics backend (Prometheus HTTP API) failed or timed out."""


def short(text: object, limit: int = 256) -> str:
    """Cut upstream text so error messages never echo unbounded bodies."""
    return clip(text, limit)
