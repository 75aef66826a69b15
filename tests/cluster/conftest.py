"""Fixtures: a fake Kubernetes API over HTTP and a KubeClient pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.fakeapi import ApiServer, serve_api
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
