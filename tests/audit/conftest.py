"""Fixtures: the fake Kubernetes API (shared with tests/cluster) and a probed local service."""

from __future__ import annotations

from tests.cluster.conftest import api, kube
from tests.postsync.conftest import web

__all__ = ["api", "kube", "web"]
