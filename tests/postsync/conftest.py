"""Fixtures: the fake Kubernetes API (shared with tests/cluster) and a probed local service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.conftest import api, kube
from tests.postsync.world import service

__all__ = ["api", "kube", "web"]


@pytest.fixture
def web() -> Iterator[tuple[str, dict[str, int]]]:
    """(base URL, path -> status): /healthz answers 200, /broken 500."""
    with service({"/healthz": 200, "/broken": 500}) as svc:
        yield svc
