"""Server fixtures: the shipped policies in the real regorus engine, a real SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.server.reviews import POLICIES
from webhooks.admission.config import AdmissionConfig, FailureMode, load_config
from webhooks.ledger import open_store
from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyEngine
from webhooks.policy.regorus_engine import RegorusEngine
from webhooks.server.app import create_app
from webhooks.server.metrics import Metrics


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return RegorusEngine(POLICIES)


@pytest.fixture
def config() -> AdmissionConfig:
    return load_config(POLICIES / "enforcement.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IntentStore]:
    s = open_store(str(tmp_path / "ledger.db"))
    yield s
    s.close()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


def make_client(
    config: AdmissionConfig,
    engine: PolicyEngine,
    store: IntentStore,
    metrics: Metrics,
    failure_mode: FailureMode | None = None,
) -> FlaskClient:
    if failure_mode is not None:
        config = replace(config, failure_mode=failure_mode)
    app: Flask = create_app(config, engine, store, metrics)
    return app.test_client()


@pytest.fixture
def client(
    config: AdmissionConfig, engine: PolicyEngine, store: IntentStore, metrics: Metrics
) -> FlaskClient:
    return make_client(config, engine, store, metrics)
