"""The shipped admission policies, loaded once for the admission tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhooks.policy.regorus_engine import RegorusEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "admission"


@pytest.fixture(scope="session")
def shipped_engine() -> RegorusEngine:
    return RegorusEngine(POLICIES)
