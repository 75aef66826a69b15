"""Fixtures: the fake Kubernetes API with a seeded application, and a probed local service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.fakeapi import ApiServer, serve_api
from tests.postsync.world import service
from webhooks.cluster.reader import KubeClient, connect


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with serve_api() as server:
        yield server


@pytest.fixture
def kube(api: ApiServer) -> Iterator[KubeClient]:
    client = connect(server=api.url, timeout=5)
    yield client
    client.close()


@pytest.fixture
def web() -> Iterator[tuple[str, dict[str, int]]]:
    """(base URL, path -> status): /healthz answers 200, /broken 500."""
    with service({"/healthz": 200, "/broken": 500}) as svc:
        yield svc
