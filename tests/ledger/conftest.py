"""Every ledger test runs against both backends: a SQLite file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from webhooks.ledger import IntentStore, open_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    dsn: str = request.getfixturevalue("fresh_postgres_dsn")
    return dsn


@pytest.fixture
def store(ledger_url: str) -> Iterator[IntentStore]:
    opened = open_store(ledger_url)
    yield opened
    opened.close()
