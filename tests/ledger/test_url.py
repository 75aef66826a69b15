"""--ledger values: which backend they pick, and that passwords never show."""

from __future__ import annotations

import pytest

from webhooks.errors import BadRequestError
from webhooks.ledger.url import parse_ledger_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/var/lib/truthgate/ledger.db", "/var/lib/truthgate/ledger.db"),
        ("ledger.db", "ledger.db"),
        ("sqlite:///var/lib/truthgate/ledger.db", "/var/lib/truthgate/ledger.db"),
        ("sqlite:ledger.db", "ledger.db"),
        ("sqlite:data/my%20ledger.db", "data/my ledger.db"),
    ],
)
def test_paths_and_sqlite_urls_are_sqlite_files(url: str, path: str) -> None:
    parsed = parse_ledger_url(url)
    assert (parsed.backend, parsed.target) == ("sqlite", path)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_hide_the_password_everywhere_but_the_target(scheme: str) -> None:
    url = f"{scheme}://ledger:p%40ss:w0rd@db.example:5432/truthgate?sslmode=require"
    parsed = parse_ledger_url(url)
    assert parsed.backend == "postgresql"
    assert parsed.target == url
    assert parsed.display == f"{scheme}://ledger:***@db.example:5432/truthgate?sslmode=require"
    assert "w0rd" not in repr(parsed)
    assert parsed.scrub("failed for p@ss:w0rd and p%40ss:w0rd") == "failed for *** and ***"


def test_password_in_the_query_is_hidden_too() -> None:
    parsed = parse_ledger_url("postgresql://db.example/truthgate?user=l&password=hunter2")
    assert "hunter2" not in parsed.display
    assert "password=***" in parsed.display
    assert parsed.scrub("x hunter2 y") == "x *** y"


@pytest.mark.parametrize("url", ["", "  ", "mysql://db/x", "sqlite://host/x.db", "sqlite:"])
def test_unusable_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(BadRequestError):
        parse_ledger_url(url)
