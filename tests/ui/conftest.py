"""Fixtures of the browser tests: the extension built once per module, a ledger per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.browser import build
from webhooks.ledger import open_store
from webhooks.ledger.store import IntentStore


@pytest.fixture(scope="module")
def built() -> None:
    build()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[IntentStore]:
    s = open_store(str(tmp_path / "ledger.db"))
    yield s
    s.close()
