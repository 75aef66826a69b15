"""Fixtures of the baseline tests: the real Prometheus server from tests/support."""

from __future__ import annotations

from tests.support.prometheus import prometheus_server

__all__ = ["prometheus_server"]
