"""A running stand-in OPA server per test, and the shipped policy directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.policy.opa_standin import StandInOpa, start

POLICIES = Path(__file__).resolve().parents[2] / "policies"
ADMISSION = POLICIES / "admission"


@pytest.fixture
def opa() -> Iterator[tuple[StandInOpa, str]]:
    state = StandInOpa()
    server, url = start(state)
    try:
        yield state, url
    finally:
        server.shutdown()
        server.server_close()
