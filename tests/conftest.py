"""Fixtures every test folder may use: a real PostgreSQL server (see tests/support/postgres.py).

``postgres_dsn`` — one database for the session; ``fresh_postgres_dsn`` — an empty database per
test. Tests using them should carry ``@pytest.mark.postgres``.
"""

from tests.support.postgres import (  # noqa: F401 - imported to register the fixtures
    fresh_postgres_dsn,
    postgres_dsn,
    postgres_server,
)
